import { once } from 'node:events';
import http2, { type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import tls, { type TLSSocket } from 'node:tls';
import {
  mtlsClientOptions,
  mtlsServerOptions,
  peerIdentity,
  type KeyedCertificate,
  type MtlsIdentity,
  type SpiffeId,
  type TrustBundle,
} from '../../../shared/identity/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { closeServer, listenLoopback } from '../net.js';

/** Options of {@link mtlsConnect}. */
export interface MtlsConnectOptions {
  readonly servername?: string;
  readonly alpn?: string;
  /** Which server identities the client accepts (default any of the bundle). */
  readonly expect?: (peer: SpiffeId) => boolean;
}

/**
 * A workload's own mTLS session, as the outbound proxy makes it: to an inbound listener on
 * 127.0.0.1:`target`, or nested inside an existing stream (a tunnel stream). Resolves after the handshake.
 */
export async function mtlsConnect(target: number | Duplex, identity: MtlsIdentity, options: MtlsConnectOptions = {}): Promise<TLSSocket> {
  const socket = tls.connect({
    ...(typeof target === 'number' ? { host: '127.0.0.1', port: target } : { socket: target }),
    ...mtlsClientOptions(identity, options.expect),
    ...(options.servername === undefined ? {} : { servername: options.servername }),
    ...(options.alpn === undefined ? {} : { ALPNProtocols: [options.alpn] }),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed during handshake')));
  });
  return socket;
}

/** An HTTP/2 session to `service` on an inbound listener, presenting `identity`. */
export async function mtlsH2(port: number, identity: MtlsIdentity, service: string): Promise<{ session: ClientHttp2Session; socket: TLSSocket }> {
  const socket = await mtlsConnect(port, identity, { servername: meshServerName(service), alpn: 'h2' });
  const session = http2.connect(`https://${service}.mesh`, { createConnection: () => socket });
  session.on('error', () => undefined);
  return { session, socket };
}

/** The calling workload's own TLS session to `service`, run inside a tunnel stream, with the server identity it verified. */
export async function nestedTls(stream: Duplex, client: MtlsIdentity, expect: (peer: SpiffeId) => boolean, service: string): Promise<{ socket: TLSSocket; server: SpiffeId }> {
  const socket = await mtlsConnect(stream, client, { servername: meshServerName(service), expect });
  return { socket, server: peerIdentity(socket, client.bundle, 'server') };
}

/**
 * Whether the server kept the connection: under TLS 1.3 a client completes its handshake before
 * the server has judged the client certificate, so a refusal shows as the connection dying
 * right after (an alert, or a close before any application byte).
 */
export async function refusedAfterHandshake(socket: TLSSocket): Promise<boolean> {
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: x.mesh\r\n\r\n');
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
  await once(socket, 'close');
  return data === '';
}

/** An mTLS server that answers each verified client with the client's SPIFFE ID, and records why it refused the others. */
export interface MtlsTestServer {
  port: number;
  accepted: string[];
  rejected: string[];
  close(): Promise<void>;
}

/** Starts an {@link MtlsTestServer} presenting `identity` and trusting `bundle` (which may differ from the identity's own). */
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
  const port = await listenLoopback(server);
  return { port, accepted, rejected, close: () => closeServer(server) };
}

/** Outcome of one client connection: what it read, the server identity it verified, or its error. */
export interface Attempt {
  body: string;
  serverId: string | undefined;
  error: Error | undefined;
}

/** Connects to 127.0.0.1:`port` presenting `identity` and trusting `bundle`; resolves when the connection closes. */
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
