import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { mtlsServerOptions, peerIdentity, type MtlsIdentity } from '../../../shared/identity/index.js';
import type { GatewayAddress } from '../../../shared/mesh/index.js';
import { closeServer, listenLoopback } from '../net.js';

/** A listening test server on 127.0.0.1 and what it saw. */
export interface EchoServer {
  readonly port: number;
  readonly address: GatewayAddress;
  /** SPIFFE IDs of verified TLS clients (TLS echo only). */
  readonly peers: string[];
  /** Connections accepted so far. */
  connections: number;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

/** Listens on loopback and builds the handle: `close()` cuts the tracked connections, then stops listening. */
async function serve<T extends object>(server: Server, sockets: Set<Socket>, state: T): Promise<T & Pick<EchoServer, 'port' | 'address' | 'close'>> {
  const port = await listenLoopback(server);
  const close = (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    return closeServer(server);
  };
  return Object.assign(state, { port, address: { address: '127.0.0.1', port }, close });
}

function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
}

/** A plain TCP echo server: an app behind its agent, or a destination agent's inbound port. Half-closes like a real echo. */
export async function startTcpEcho(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const state = { peers: [] as string[], connections: 0 };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    state.connections += 1;
    track(sockets, socket);
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    socket.pipe(socket);
  });
  return serve(server, sockets, state);
}

/**
 * A TLS 1.3 echo server with a workload identity: the destination agent's inbound port as seen
 * through the mesh. It greets each verified client with the client's SPIFFE ID, then echoes.
 */
export async function startTlsEcho(serverIdentity: MtlsIdentity): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const state = { peers: [] as string[], connections: 0 };
  const server = tls.createServer(mtlsServerOptions(serverIdentity), (secure) => {
    secure.on('error', () => undefined);
    const peer = peerIdentity(secure, serverIdentity.bundle, 'client').uri;
    state.peers.push(peer);
    secure.write(`hello ${peer}\n`);
    secure.pipe(secure);
  });
  server.on('connection', (raw: Socket) => {
    state.connections += 1;
    track(sockets, raw);
  });
  server.on('tlsClientError', () => undefined);
  return serve(server, sockets, state);
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
  return serve(server, sockets, state);
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
