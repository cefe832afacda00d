import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { CatalogReader, NodeContext } from '../../shared/catalog/index.js';
import { MeridianError, errorResponse } from '../../shared/errors/index.js';
import type { LocalRegistry } from '../registration/index.js';
import { agentReadRoutes, agentWriteRoutes } from './agent-routes.js';
import { requireConsulToken, type ConsulAccess } from './auth.js';
import { BlockingGate, MAX_WAIT_MS } from './blocking.js';
import type { ConsulContext } from './context.js';
import { catalogRoutes, healthRoutes, statusRoutes } from './reads.js';

/** What the Consul-compatible API serves from. */
export interface ConsulApiOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: LocalRegistry;
  readonly reader: CatalogReader;
  readonly node: NodeContext;
  /** Whether the agent currently reaches its site's NATS (Consul's "known leader"). */
  readonly connected: () => boolean;
  readonly access: ConsulAccess;
  /** Blocking queries held at once before more are refused with 429 (default {@link DEFAULT_MAX_BLOCKING}). */
  readonly maxBlockingQueries?: number;
}

/** A running Consul-compatible API. */
export interface ConsulApi {
  readonly url: string;
  /** Blocking queries waiting now. */
  blockingQueries(): number;
  close(): Promise<void>;
}

/** Registration bodies are small: the same bound as the agent API's. */
export const BODY_LIMIT = 64 * 1024;
export const DEFAULT_MAX_BLOCKING = 256;
/** Connections at once: blocking queries plus room for ordinary reads. */
const MAX_CONNECTIONS = 1024;
const MAX_PARAM_LENGTH = 256;
/** A client has this long to send its request headers (slow-loris bound). */
const HEADERS_TIMEOUT_MS = 10_000;

/** The endpoints served, by path pattern and method: anything else is 405 (path known) or 501 (not served). */
const SERVED: readonly { pattern: RegExp; method: string }[] = [
  ...['datacenters', 'services', 'service/[^/]+', 'nodes', 'node/[^/]+'].map((p) => ({ pattern: new RegExp(`^/v1/catalog/${p}$`), method: 'GET' })),
  ...['service/[^/]+', 'checks/[^/]+'].map((p) => ({ pattern: new RegExp(`^/v1/health/${p}$`), method: 'GET' })),
  { pattern: /^\/v1\/agent\/self$/, method: 'GET' },
  { pattern: /^\/v1\/agent\/services$/, method: 'GET' },
  { pattern: /^\/v1\/status\/leader$/, method: 'GET' },
  { pattern: /^\/v1\/agent\/service\/register$/, method: 'PUT' },
  { pattern: /^\/v1\/agent\/service\/deregister\/[^/]+$/, method: 'PUT' },
  { pattern: /^\/v1\/agent\/check\/(pass|warn|fail)\/[^/]+$/, method: 'PUT' },
];

function createApp(): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // A blocking query is idle for up to its wait: the socket must outlive the longest one.
    requestTimeout: MAX_WAIT_MS + 60_000,
    connectionTimeout: MAX_WAIT_MS + 60_000,
    keepAliveTimeout: 65_000,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    // Router refusals (a parameter past maxParamLength, a malformed URL) answer in the same text form.
    frameworkErrors: (error, _request, untyped) => {
      const reply = untyped as FastifyReply;
      void reply.status(error.statusCode ?? 400).header('x-meridian-error-code', 'MERIDIAN_ERR_BAD_ARGUMENT').type('text/plain; charset=utf-8').send(`${error.code}: ${error.message.slice(0, 200)}`);
    },
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  app.server.maxConnections = MAX_CONNECTIONS;
  app.removeAllContentTypeParsers();
  // Consul clients do not all send a content type; every body is JSON.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch (error) {
      done(new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `Request decode failed: the body is not JSON (${(error as Error).message})`), undefined);
    }
  });
  // Consul answers errors as plain text; the Meridian code travels in a header for scripts.
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const { status, body } = errorResponse(error);
    return reply.status(status).header('x-meridian-error-code', body.code).type('text/plain; charset=utf-8').send(body.message);
  });
  app.setNotFoundHandler((request) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = SERVED.filter((s) => s.pattern.test(path)).map((s) => s.method);
    if (allowed.length > 0) throw new MeridianError('MERIDIAN_ERR_METHOD_NOT_ALLOWED', `method ${request.method} not allowed on ${path} (allowed: ${allowed.join(', ')})`);
    throw new MeridianError('MERIDIAN_ERR_CONSUL_UNSUPPORTED', `${request.method} ${path.slice(0, 128)} is not served by Meridian's Consul-compatible API (see the README: catalog, health, agent services and checks, status/leader)`);
  });
  return app;
}

/**
 * The Consul-compatible HTTP API of the agent: catalog and health reads of the federated view
 * (sites are datacenters), blocking queries, and registration of this node's services through the
 * agent's registrar. Tokens, limits and the served subset are described in the README.
 */
export async function startConsulApi(options: ConsulApiOptions): Promise<ConsulApi> {
  const app = createApp();
  requireConsulToken(app, options.access);
  const gate = new BlockingGate(options.maxBlockingQueries ?? DEFAULT_MAX_BLOCKING);
  let address = `${options.host}:${options.port}`;
  const context: ConsulContext = { reader: options.reader, registry: options.registry, node: options.node, connected: options.connected, gate, address: () => address };
  catalogRoutes(app, context);
  healthRoutes(app, context);
  statusRoutes(app, context);
  agentReadRoutes(app, context);
  agentWriteRoutes(app, context);
  await app.listen({ host: options.host, port: options.port });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  address = `${host}:${port}`;
  return { url: `http://${address}`, blockingQueries: () => gate.held, close: () => app.close() };
}
