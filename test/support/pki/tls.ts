import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { mtlsClientOptions, mtlsServerOptions, peerIdentity, type KeyedCertificate, type TrustBundle } from '../../../shared/identity/index.js';

/** An mTLS echo server that answers each verified client with the client's SPIFFE ID. */
export interface MtlsTestServer {
  port: number;
  accepted: string[];
  rejected: string[];
  close(): Promise<void>;
}

export async function startMtlsServer(identity: KeyedCertificate, bundle: TrustBundle): Promise<MtlsTestServer> {
  const accepted: string[] = [];
  const rejected: string[] = [];
  const server = tls.createServer(mtlsServerOptions({ privateKey: identity.privateKey, chain: identity.chain, bundle }));
  server.on('secureConnection', (socket) => {
    socket.on('error', () => undefined);
    try {
      const peer = peerIdentity(socket, bundle, 'client');
      accepted.push(peer.uri);
      socket.end(peer.uri);
    } catch (error) {
      rejected.push((error as Error).message);
      socket.destroy();
    }
  });
  // Node completes a TLS 1.3 handshake, then destroys a client whose chain failed; the reason is
  // on the socket, not in the error ('socket hang up').
  server.on('tlsClientError', (error, socket) => rejected.push(`${error.message} (${String(socket.authorizationError)})`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Outcome of one client connection: what it read, the server identity it verified, or its error. */
export interface Attempt {
  body: string;
  serverId: string | undefined;
  error: Error | undefined;
}

export async function attempt(identity: KeyedCertificate, bundle: TrustBundle, port: number): Promise<Attempt> {
  const result: Attempt = { body: '', serverId: undefined, error: undefined };
  const socket = tls.connect({ host: '127.0.0.1', port, ...mtlsClientOptions({ privateKey: identity.privateKey, chain: identity.chain, bundle }) });
  socket.on('secureConnect', () => {
    result.serverId = peerIdentity(socket, bundle, 'server').uri;
  });
  socket.on('data', (chunk: Buffer) => {
    result.body += chunk.toString();
  });
  socket.on('error', (error: Error) => {
    result.error = error;
  });
  await new Promise((resolve) => socket.once('close', resolve));
  return result;
}
