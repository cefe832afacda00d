import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  createRootAuthority,
  createSiteAuthority,
  issueLocalIdentity,
  mtlsClientOptions,
  mtlsServerOptions,
  peerIdentity,
  type IdentityKind,
  type MtlsIdentity,
  type SiteAuthority,
  type SpiffeId,
} from '../../../shared/identity/index.js';
import { meshServerName, type GatewayAddress } from '../../../shared/mesh/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { RoutableInstance } from '../../../gateway/index.js';

export const TRUST_DOMAIN = 'acme.internal';

/** A trust domain with sites a, b and c, built in memory for one test file. */
export interface Federation {
  readonly a: SiteAuthority;
  readonly b: SiteAuthority;
  readonly c: SiteAuthority;
}

export function makeFederation(): Federation {
  const root = createRootAuthority({ trustDomain: TRUST_DOMAIN });
  return { a: createSiteAuthority(root, 'a').authority, b: createSiteAuthority(root, 'b').authority, c: createSiteAuthority(root, 'c').authority };
}

/** A credential issued now by `site`, as an endpoint holds it in memory. */
export function identity(site: SiteAuthority, kind: IdentityKind, name: string): MtlsIdentity {
  const issued = issueLocalIdentity(site, kind, name);
  return { privateKey: issued.privateKey, chain: issued.chain, bundle: site.bundle };
}

/** A credential of a trust domain with the same name but another root: what an intruder could mint. */
export function foreignIdentity(site: string, kind: IdentityKind, name: string, trustedBundle: SiteAuthority['bundle']): MtlsIdentity {
  const foreign = createSiteAuthority(createRootAuthority({ trustDomain: TRUST_DOMAIN }), site).authority;
  const issued = issueLocalIdentity(foreign, kind, name);
  return { privateKey: issued.privateKey, chain: issued.chain, bundle: trustedBundle };
}

/** Log lines a gateway wrote, kept for assertions instead of going to stderr. */
export interface RecordingLogger extends Logger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}): void => void lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A listening test server and what it saw. */
export interface EchoServer {
  readonly address: GatewayAddress;
  /** SPIFFE IDs of verified TLS clients (TLS echo only). */
  readonly peers: string[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

async function listen(server: Server, port = 0): Promise<GatewayAddress> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { address: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** A plain TCP echo server standing in for a destination agent's inbound port. */
export async function startTcpEcho(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const result = { peers: [] as string[], connections: 0 };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    result.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  const address = await listen(server);
  return Object.assign(result, { address, close: closer(server, sockets) });
}

/**
 * A TLS 1.3 echo server with a workload identity: the destination agent's inbound port as seen
 * through the mesh. It greets each verified client with the client's SPIFFE ID, then echoes.
 */
export async function startTlsEcho(serverIdentity: MtlsIdentity): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const result = { peers: [] as string[], connections: 0 };
  const server = tls.createServer(mtlsServerOptions(serverIdentity), (secure) => {
    secure.on('error', () => undefined);
    const peer = peerIdentity(secure, serverIdentity.bundle, 'client').uri;
    result.peers.push(peer);
    secure.write(`hello ${peer}\n`);
    secure.pipe(secure);
  });
  server.on('connection', (raw: Socket) => {
    result.connections += 1;
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
  });
  server.on('tlsClientError', () => undefined);
  const address = await listen(server);
  return Object.assign(result, { address, close: closer(server, sockets) });
}

/** The calling workload's own TLS session, run inside a tunnel stream; resolves after the handshake. */
export async function nestedTls(stream: Duplex, client: MtlsIdentity, expect: (peer: SpiffeId) => boolean, service: string): Promise<{ socket: tls.TLSSocket; server: SpiffeId }> {
  const socket = tls.connect({ socket: stream, servername: meshServerName(service), ...mtlsClientOptions(client, expect) });
  await once(socket, 'secureConnect');
  return { socket, server: peerIdentity(socket, client.bundle, 'server') };
}

/** Reads from `stream` until `predicate` holds for what arrived, or rejects after `timeoutMs`. */
export async function readUntil(stream: Duplex, predicate: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  let text = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`timed out waiting for data; got ${JSON.stringify(text.slice(0, 200))}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      if (predicate(text)) finish();
    };
    const onEnd = (): void => finish(predicate(text) ? undefined : new Error(`stream ended early; got ${JSON.stringify(text.slice(0, 200))}`));
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', finish);
      if (error === undefined) resolve(text);
      else reject(error);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', finish);
  });
}

/** An instance of site `site` as the catalog would hold it (only the fields the gateway reads). */
export function instance(fields: Partial<RoutableInstance> & Pick<RoutableInstance, 'service' | 'instanceId' | 'site'>): RoutableInstance {
  return { address: '127.0.0.1', exported: true, health: 'passing', ...fields };
}

/** Polls `predicate` every 10 ms until it holds, failing after `timeoutMs` with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TCP relay that can silently drop every byte both ways: a network partition without any FIN or RST. */
export interface BlackholeRelay {
  readonly address: GatewayAddress;
  blackhole: boolean;
  close(): Promise<void>;
}

export async function startBlackholeRelay(target: GatewayAddress): Promise<BlackholeRelay> {
  const sockets = new Set<Socket>();
  const state = { blackhole: false };
  const join = (from: Socket, to: Socket): void => {
    sockets.add(from);
    from.on('data', (chunk: Buffer) => {
      if (!state.blackhole) to.write(chunk);
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => {
      sockets.delete(from);
      to.destroy();
    });
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.address);
    join(client, upstream);
    join(upstream, client);
  });
  const address = await listen(server);
  return Object.assign(state, { address, close: closer(server, sockets) });
}
