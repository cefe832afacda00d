import { once } from 'node:events';
import http2, { type ClientHttp2Session } from 'node:http2';
import tls, { type TLSSocket } from 'node:tls';
import { mtlsClientOptions, type MtlsIdentity } from '../../../shared/identity/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';

/** A workload's own mTLS connection to an inbound listener, as the outbound proxy makes it. */
export async function mtlsConnect(port: number, identity: MtlsIdentity, options: { servername?: string; alpn: string }): Promise<TLSSocket> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ...mtlsClientOptions(identity),
    ...(options.servername === undefined ? {} : { servername: options.servername }),
    ALPNProtocols: [options.alpn],
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
