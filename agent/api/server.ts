import Fastify, { type FastifyInstance } from 'fastify';
import type { CatalogReader, NodeContext } from '../../shared/catalog/index.js';
import { MERIDIAN_VERSION } from '../../shared/config/index.js';
import { MeridianError, errorResponse } from '../../shared/errors/index.js';
import type { DocumentedRoute, RouteSchema } from '../../shared/openapi/index.js';
import type { LocalRegistry } from '../registration/index.js';
import { AUTH_CHALLENGE, requireToken, type ApiAccess } from './auth.js';
import { agentApiDocument } from './openapi.js';
import { catalogRoutes, nodeRoutes, type RouteContext } from './routes.js';
import { typeBoxValidatorCompiler } from './validation.js';

/** What the agent API serves from. */
export interface AgentApiOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: LocalRegistry;
  readonly reader: CatalogReader & { isWarm(): boolean };
  readonly node: NodeContext;
  /** Whether the agent currently reaches its site's NATS. */
  readonly connected: () => boolean;
  /** Prometheus exposition of the agent's metrics, served at `/metrics`. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  /** The bearer token every route but `/v1/ready` and `/openapi.json` requires. */
  readonly access: ApiAccess;
}

/** A running agent API. */
export interface AgentApi {
  readonly url: string;
  close(): Promise<void>;
}

/** Bodies are service definitions: a few KiB at most (64 labels of 320 bytes fit with room to spare). */
export const BODY_LIMIT = 64 * 1024;

function createApp(): FastifyInstance {
  // Keep-alive outlasts clients' idle pools, so a reused connection is never closed under a request.
  const app = Fastify({ bodyLimit: BODY_LIMIT, requestTimeout: 90_000, connectionTimeout: 90_000, keepAliveTimeout: 65_000, return503OnClosing: true });
  app.setValidatorCompiler(typeBoxValidatorCompiler);
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const { status, body } = errorResponse(error);
    if (status === 401) void reply.header('www-authenticate', AUTH_CHALLENGE);
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request) => {
    throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}; the routes are listed in /openapi.json`);
  });
  return app;
}

/**
 * The agent's local HTTP API (bound to localhost by default): register, deregister and list this
 * node's services, and read the federated catalog with filters, blocking queries and an SSE
 * stream. Every route declares its schemas (validation, serialisation and `/openapi.json` come
 * from them) and needs the bearer token, except `/v1/ready` and `/openapi.json`.
 */
export async function startAgentApi(options: AgentApiOptions): Promise<AgentApi> {
  const app = createApp();
  const routes: DocumentedRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, schema: (route.schema ?? {}) as RouteSchema });
  });
  requireToken(app, options.access);
  let document: unknown;
  const context: RouteContext = {
    registry: options.registry,
    reader: options.reader,
    node: options.node,
    connected: options.connected,
    metrics: options.metrics,
    document: () => (document ??= agentApiDocument(routes, MERIDIAN_VERSION)),
  };
  catalogRoutes(app, context);
  nodeRoutes(app, context);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`, close: () => app.close() };
}
