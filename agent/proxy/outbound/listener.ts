import http from 'node:http';
import http2 from 'node:http2';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MeridianError } from '../../../shared/errors/index.js';
import { Balancer } from './balancer.js';
import { ConnectionTracker } from '../listener/drain.js';
import { ProxyError, refuseRawSocket, replyError } from '../http/errors.js';
import { H1_MAX_HEADERS_COUNT, H1_PARSER_OPTIONS, H2_HEADER_OPTIONS, onHttp1ClientError } from '../http/limits.js';
import { DEFAULT_RESET_LIMITS, ResetGuard } from '../listener/reset-guard.js';
import { assertPort, checkingInterval, interceptListeners, listen, resolveTimeouts, SILENT_LOGGER, type ServerTimeouts } from '../listener/listen.js';
import { MeshPool } from '../transport/mesh-pool.js';
import { outboundRequestHandler, type OutboundHttpDeps } from './http.js';
import { createUpstreamServer, type OutboundTcpDeps } from './tcp.js';
import { sniffHttpVersion } from './sniff.js';
import type { OutboundOptions, OutboundProxy, UpstreamPort } from './types.js';
import { DEFAULT_DRAIN_MS, DEFAULT_MESH_SESSION_AGE_MS } from '../../../shared/config/index.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_ATTEMPTS = 3;
/** Streams per pooled HTTP/2 session before a second session opens. */
const DEFAULT_MAX_STREAMS = 100;

function assertOptions(options: OutboundOptions): void {
  const where = 'startOutbound';
  if (options.http !== undefined) assertPort(where, 'http', options.http);
  (options.upstreams ?? []).forEach((u, i) => assertPort(where, `upstreams[${i}].port`, u.port));
  for (const field of ['connectTimeoutMs', 'maxAttempts', 'maxStreamsPerSession'] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${where}: ${field} must be a positive integer (got ${String(value)})`);
    }
  }
}

const CONNECT_REFUSED = new ProxyError(
  'MERIDIAN_ERR_METHOD_NOT_ALLOWED',
  'CONNECT is not forwarded: the mesh listener routes requests by <service>.mesh, it opens no tunnels (TCP services have upstream ports)',
);

/** HTTP/1.1 CONNECT: Node hands over the bare socket (and would drop it unanswered). */
function refuseConnect(_req: http.IncomingMessage, socket: Duplex): void {
  refuseRawSocket(socket, CONNECT_REFUSED);
}

/**
 * The HTTP/1.1 server: strict parser, header and request timeouts, the header budget
 * (http/limits.ts), and Meridian error bodies for what Node would refuse by itself.
 */
function createHttp1Server(handler: http.RequestListener, timeouts: ServerTimeouts): http.Server {
  const h1 = http.createServer(
    {
      ...H1_PARSER_OPTIONS,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.idleMs,
      connectionsCheckingInterval: checkingInterval(timeouts),
    },
    handler,
  );
  h1.maxHeadersCount = H1_MAX_HEADERS_COUNT;
  h1.on('clientError', onHttp1ClientError);
  h1.on('connect', refuseConnect);
  return h1;
}

/** The h2c server: the header budget's hard bounds, CONNECT refused, rapid reset guarded. */
function createHttp2Server(deps: OutboundHttpDeps, handler: ReturnType<typeof outboundRequestHandler>, timeouts: ServerTimeouts): http2.Http2Server {
  const h2 = http2.createServer({ ...H2_HEADER_OPTIONS, settings: { ...H2_HEADER_OPTIONS.settings, maxConcurrentStreams: 256 } }, handler);
  h2.on('connect', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => replyError(req, res, CONNECT_REFUSED));
  deps.resets.watch(h2);
  h2.on('session', (session) => {
    deps.tracker.addSession(session);
    session.on('error', () => undefined);
    session.setTimeout(timeouts.idleMs, () => session.close());
  });
  h2.on('sessionError', () => undefined);
  return h2;
}

/**
 * The HTTP listener: one plain port for HTTP/1.1 and h2c prior knowledge. The HTTP/1.1 server
 * owns the port (strict parser, header and request timeouts); each new connection is sniffed
 * first and handed to the HTTP/2 server when it opens with the HTTP/2 preface.
 */
function createHttpListener(deps: OutboundHttpDeps, timeouts: ServerTimeouts): http.Server {
  const handler = outboundRequestHandler(deps);
  const h1 = createHttp1Server(handler, timeouts);
  const h2 = createHttp2Server(deps, handler, timeouts);
  interceptListeners<Socket>(h1, 'connection', (socket, next) => {
    socket.on('error', () => undefined);
    deps.tracker.addRaw(socket);
    sniffHttpVersion(socket, timeouts.headersMs, (version) => {
      deps.tracker.release(socket);
      if (version === 'h2') {
        h2.emit('connection', socket);
        return;
      }
      deps.tracker.addHttp1(socket);
      next(socket);
      socket.resume();
    });
  });
  return h1;
}

/**
 * Starts a calling service's outbound listeners on localhost: the HTTP port routing by
 * `<service>.mesh`, and one TCP port per upstream. Every call leaves with the caller's own
 * workload identity, in a TLS session that ends at the destination's inbound listener.
 */
export async function startOutbound(options: OutboundOptions): Promise<OutboundProxy> {
  assertOptions(options);
  const timeouts = resolveTimeouts('startOutbound', options.timeouts);
  const logger = options.logger ?? SILENT_LOGGER;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const balancer =
    options.balancer ??
    new Balancer({ locality: options.locality, candidates: options.candidates, ...(options.outlier === undefined ? {} : { outlier: options.outlier }) });
  const pool = new MeshPool({
    identity: options.identity,
    dialer: options.dialer,
    connectTimeoutMs,
    maxStreamsPerSession: options.maxStreamsPerSession ?? DEFAULT_MAX_STREAMS,
    idleMs: timeouts.idleMs,
    maxSessionAgeMs: options.maxSessionAgeMs ?? DEFAULT_MESH_SESSION_AGE_MS,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
  });
  const tracker = new ConnectionTracker();
  const host = options.host ?? '127.0.0.1';
  const servers: Server[] = [];
  try {
    const resets = new ResetGuard(DEFAULT_RESET_LIMITS, () =>
      logger.warn('outbound: an HTTP/2 client reset too many streams before their answer; session closed with ENHANCE_YOUR_CALM', { service: options.service }),
    );
    const httpDeps: OutboundHttpDeps = { balancer, pool, maxAttempts, tracker, logger, service: options.service, onRequest: options.onRequest, resets };
    const httpPort = await startHttp(options, httpDeps, timeouts, servers);
    const tcpDeps: OutboundTcpDeps = { balancer, pool, dialer: options.dialer, connectTimeoutMs, maxAttempts, tracker, logger, caller: options.service, onRequest: options.onRequest };
    const upstreams: UpstreamPort[] = [];
    for (const upstream of options.upstreams ?? []) {
      const server = createUpstreamServer(tcpDeps, upstream.service);
      servers.push(server);
      upstreams.push({ service: upstream.service, port: await listen(server, upstream.port, host) });
    }
    return handle({ host, httpPort, upstreams, servers, balancer, pool, tracker });
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
}

async function startHttp(options: OutboundOptions, deps: OutboundHttpDeps, timeouts: ServerTimeouts, servers: Server[]): Promise<number | undefined> {
  if (options.http === undefined) return undefined;
  const server = createHttpListener(deps, timeouts);
  servers.push(server);
  return listen(server, options.http, options.host ?? '127.0.0.1');
}

function handle(parts: {
  host: string;
  httpPort: number | undefined;
  upstreams: UpstreamPort[];
  servers: Server[];
  balancer: Balancer;
  pool: MeshPool;
  tracker: ConnectionTracker;
}): OutboundProxy {
  let closing: Promise<void> | undefined;
  return {
    address: parts.host,
    httpPort: parts.httpPort,
    upstreams: Object.freeze([...parts.upstreams]),
    setIdentity: (identity) => parts.pool.setIdentity(identity),
    failovers: () => parts.balancer.failovers(),
    close: (timeoutMs = DEFAULT_DRAIN_MS) => {
      closing ??= (async () => {
        for (const server of parts.servers) server.close();
        await parts.tracker.drain(timeoutMs);
        await parts.pool.close(1_000);
      })();
      return closing;
    },
  };
}
