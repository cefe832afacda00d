import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { CatalogEntry, CatalogReader, NodeContext } from '../../shared/catalog/index.js';
import { MeridianError, errorResponse } from '../../shared/errors/index.js';
import type { LocalRegistry } from '../registration/types.js';
import { toBlocking, toCatalogQuery, type CatalogQueryString } from './query.js';

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
}

/** A running agent API. */
export interface AgentApi {
  readonly url: string;
  close(): Promise<void>;
}

const BODY_LIMIT = 64 * 1024;

function entryJson(entry: CatalogEntry): Record<string, unknown> {
  return { ...entry.instance, stale: entry.stale, ageMs: entry.ageMs, usable: entry.usable };
}

function summarize(entries: CatalogEntry[]): Record<string, unknown>[] {
  const byService = new Map<string, CatalogEntry[]>();
  for (const entry of entries) {
    const list = byService.get(entry.instance.service);
    if (list === undefined) byService.set(entry.instance.service, [entry]);
    else list.push(entry);
  }
  return [...byService].sort(([a], [b]) => a.localeCompare(b)).map(([service, list]) => ({
    service,
    instances: list.length,
    passing: list.filter((e) => e.instance.health === 'passing').length,
    usable: list.filter((e) => e.usable).length,
    stale: list.filter((e) => e.stale).length,
    sites: [...new Set(list.map((e) => e.instance.site))].sort(),
  }));
}

/**
 * The agent's local HTTP API (bound to localhost by default): register, deregister and list this
 * node's services, and read the federated catalog with filters, blocking queries and an SSE stream.
 */
export async function startAgentApi(options: AgentApiOptions): Promise<AgentApi> {
  // Keep-alive outlasts clients' idle pools, so a reused connection is never closed under a request.
  const app = Fastify({ bodyLimit: BODY_LIMIT, requestTimeout: 90_000, connectionTimeout: 90_000, keepAliveTimeout: 65_000, return503OnClosing: true });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const { status, body } = errorResponse(error);
    return reply.status(status).send(body);
  });
  registerRoutes(app, options);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`, close: () => app.close() };
}

function registerRoutes(app: FastifyInstance, options: AgentApiOptions): void {
  const { registry, reader } = options;
  app.get('/v1/agent', () => ({ ...options.node, connected: options.connected(), ready: reader.isWarm(), catalogRevision: reader.revision, sites: reader.sites() }));
  // 200 once the catalog view is warm (every site's initial replay done), 503 before: for probes and orchestration.
  app.get('/v1/ready', (_request, reply) => reply.status(reader.isWarm() ? 200 : 503).send({ ready: reader.isWarm() }));
  app.get('/v1/sites', () => ({ index: reader.revision, sites: reader.sites() }));
  app.get('/v1/services', (request: FastifyRequest<{ Querystring: CatalogQueryString }>) => ({
    index: reader.revision,
    services: summarize(reader.query(toCatalogQuery(request.query))),
  }));
  app.get('/v1/instances', async (request: FastifyRequest<{ Querystring: CatalogQueryString }>, reply) => {
    const query = toCatalogQuery(request.query);
    const blocking = toBlocking(request.query);
    if (blocking !== undefined) {
      const closed = new AbortController();
      request.raw.once('close', () => closed.abort());
      await reader.waitForChange(blocking.index, blocking.waitMs, closed.signal);
    }
    void reply.header('x-meridian-index', String(reader.revision));
    return { index: reader.revision, instances: reader.query(query).map(entryJson) };
  });
  app.get('/v1/instances/stream', (request: FastifyRequest<{ Querystring: CatalogQueryString }>, reply) => streamInstances(request, reply, reader));
  app.get('/v1/local', () => ({ registrations: registry.list() }));
  const { metrics } = options;
  if (metrics !== undefined) {
    app.get('/metrics', async (_request, reply) => {
      const { contentType, body } = await metrics();
      return reply.type(contentType).header('cache-control', 'no-store').send(body);
    });
  }
  app.post('/v1/services', async (request, reply) => reply.status(201).send(await registry.register(request.body, { kind: 'api' })));
  app.delete('/v1/services/:instanceId', async (request: FastifyRequest<{ Params: { instanceId: string } }>, reply) => {
    if (!(await registry.deregister(request.params.instanceId))) {
      throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `instance ${request.params.instanceId} is not registered on this node`);
    }
    return reply.status(204).send();
  });
  app.put('/v1/checks/:instanceId/pass', async (request: FastifyRequest<{ Params: { instanceId: string } }>, reply) => {
    await registry.passTtl(request.params.instanceId);
    return reply.status(204).send();
  });
}

/** Server-sent events: the matching instances now, then again after every change. */
function streamInstances(request: FastifyRequest<{ Querystring: CatalogQueryString }>, reply: FastifyReply, reader: CatalogReader): void {
  const query = toCatalogQuery(request.query);
  const closed = new AbortController();
  request.raw.once('close', () => closed.abort());
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  reply.raw.on('error', () => closed.abort());
  const send = (): void => {
    reply.raw.write(`id: ${reader.revision}\nevent: instances\ndata: ${JSON.stringify(reader.query(query).map(entryJson))}\n\n`);
  };
  void (async () => {
    let seen = reader.revision;
    send();
    while (!closed.signal.aborted) {
      const next = await reader.waitForChange(seen, 15_000, closed.signal);
      if (closed.signal.aborted) break;
      if (next === seen) reply.raw.write(': keep-alive\n\n');
      else send();
      seen = next;
    }
    reply.raw.end();
  })();
}
