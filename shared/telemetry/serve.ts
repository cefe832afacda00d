import { bearerTokenMatches } from '../identity/index.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { MeridianError } from '../errors/index.js';

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** Listen address. Default 127.0.0.1: exposing metrics beyond the host is an explicit choice. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** When set, scrapes must send `Authorization: Bearer <token>` (401 otherwise). */
  readonly bearerToken?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://<host>:<port>/metrics` */
  readonly url: string;
  readonly port: number;
  /** Stops listening and cuts open connections (a scraper holds keep-alive ones). */
  close(): Promise<void>;
}

// A scrape is one small GET; anything slower than this is a stuck or hostile client.
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Serves `GET /metrics` from `registry` on a small node:http server (for processes without an
 * HTTP API of their own, and for tests). Other paths get 404, other methods 405.
 */
export async function serveMetrics(registry: Registry, options: ServeMetricsOptions): Promise<MetricsServer> {
  const { port, bearerToken } = options;
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `serveMetrics: port must be an integer in 0..65535, got ${String(port)}`);
  }
  if (bearerToken !== undefined && bearerToken === '') {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', 'serveMetrics: bearerToken must not be empty');
  }
  const checkToken = bearerToken === undefined ? undefined : (header: string | undefined): boolean => bearerTokenMatches(header, [bearerToken]);
  const server = createServer((req, res) => void answer(registry, checkToken, req, res));
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  const sockets = trackSockets(server);
  const bound = await listen(server, host, port);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${bound}/metrics`,
    port: bound,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A registry's metrics in the Prometheus text format, with its content type (for any HTTP server). */
export async function exposition(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

async function answer(registry: Registry, checkToken: ((header: string | undefined) => boolean) | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics') return reply(res, 404, 'not found: metrics are served at /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return reply(res, 405, `method ${String(req.method)} not allowed\n`);
  }
  if (checkToken && !checkToken(req.headers.authorization)) {
    res.setHeader('www-authenticate', 'Bearer realm="meridian-metrics"');
    return reply(res, 401, 'a valid bearer token is required\n');
  }
  try {
    const { contentType, body } = await exposition(registry);
    res.setHeader('content-type', contentType);
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    reply(res, 500, `collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(text);
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    // A client that resets mid-request must not become an uncaught 'error'.
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err: Error, socket: Socket) => socket.destroy());
  return sockets;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `serveMetrics: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // After listening, a listener error (e.g. EMFILE on accept) must not crash the process.
  server.on('error', () => undefined);
  return (server.address() as AddressInfo).port;
}
