import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CatalogEntry, CatalogReader, NodeContext } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import type { RouteSchema } from '../../shared/openapi/index.js';
import type { LocalRegistry } from '../registration/index.js';
import { toBlocking, toCatalogQuery } from './query.js';
import * as S from './schemas.js';

/** What the routes serve from. */
export interface RouteContext {
  readonly registry: LocalRegistry;
  readonly reader: CatalogReader & { isWarm(): boolean };
  readonly node: NodeContext;
  readonly connected: () => boolean;
  readonly metrics: (() => Promise<{ contentType: string; body: string }>) | undefined;
  /** The OpenAPI document, built once the routes are declared. */
  readonly document: () => unknown;
}

const ERRORS: Record<number, string> = {
  400: 'a bad parameter or service definition; the message names the field',
  401: 'no valid "Authorization: Bearer <token>"',
  403: "the service is not in the agent config's allowedServices",
  404: 'no such instance on this node',
  409: 'the instanceId belongs to another node, or to a definitions file',
  413: 'the body is larger than 64 KiB',
};

/** Error responses of a route, by status. */
function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, Type.Object(S.ErrorSchema.properties, { description: ERRORS[status] ?? 'an error' })]));
}

const OPEN: NonNullable<RouteSchema['security']> = [];
type Query<T> = FastifyRequest<{ Querystring: T }>;
type ById = FastifyRequest<{ Params: { instanceId: string } }>;

function entryJson(entry: CatalogEntry): S.InstanceRow {
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

/** The catalog reads: the agent, readiness, sites, services, instances (blocking and streamed). */
export function catalogRoutes(app: FastifyInstance, context: RouteContext): void {
  const { reader } = context;
  const agent: RouteSchema = { summary: 'This agent: its node, whether it reaches NATS, whether its view is warm', response: { 200: S.AgentInfoSchema, ...errors(401) } };
  app.get('/v1/agent', { schema: agent }, () => ({ ...context.node, connected: context.connected(), ready: reader.isWarm(), catalogRevision: reader.revision, sites: reader.sites() }));
  const ready: RouteSchema = {
    summary: "200 once every site's initial replay is done, 503 before: for probes (no token needed)",
    security: OPEN,
    response: { 200: S.ReadySchema, 503: Type.Object(S.ReadySchema.properties, { description: 'the view is not warm yet' }) },
  };
  app.get('/v1/ready', { schema: ready }, (_request, reply) => reply.status(reader.isWarm() ? 200 : 503).send({ ready: reader.isWarm() }));
  app.get('/v1/sites', { schema: { summary: 'The sites this view follows, with their age and sync lag', response: { 200: S.SitesSchema, ...errors(401) } } }, () => ({
    index: reader.revision,
    sites: reader.sites(),
  }));
  const services: RouteSchema = { summary: 'The federated catalog by service', querystring: S.CatalogQuerySchema, response: { 200: S.ServicesSchema, ...errors(400, 401) } };
  app.get('/v1/services', { schema: services }, (request: Query<S.CatalogQueryString>) => ({ index: reader.revision, services: summarize(reader.query(toCatalogQuery(request.query))) }));
  const instances: RouteSchema = {
    summary: 'The federated catalog, filtered; with index (X-Meridian-Index) and wait, a blocking query',
    querystring: S.InstancesQuerySchema,
    response: { 200: S.InstancesSchema, ...errors(400, 401) },
  };
  app.get('/v1/instances', { schema: instances }, async (request: Query<S.InstancesQueryString>, reply) => {
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
  const stream: RouteSchema = {
    summary: 'Server-sent events: `event: instances` with the matching instances (JSON array of instance rows) now and after every change',
    querystring: S.CatalogQuerySchema,
    response: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: Type.String() } } }, ...errors(400, 401) },
  };
  app.get('/v1/instances/stream', { schema: stream }, (request: Query<S.CatalogQueryString>, reply) => streamInstances(request, reply, reader));
}

/** This node's registrations: list, register, deregister, pass a TTL check; and metrics and the document. */
export function nodeRoutes(app: FastifyInstance, context: RouteContext): void {
  const { registry, metrics } = context;
  app.get('/v1/local', { schema: { summary: "This node's registrations", response: { 200: S.LocalSchema, ...errors(401) } } }, () => ({ registrations: registry.list() }));
  const register: RouteSchema = {
    summary: 'Register a service instance on this node (a definition, as in a definitions file); without a check it gets a TCP check on its first port',
    body: S.RegistrationBodySchema,
    response: { 201: S.RegisteredSchema, ...errors(400, 401, 403, 409, 413) },
  };
  app.post('/v1/services', { schema: register }, async (request, reply) => reply.status(201).send(await registry.register(request.body, { kind: 'api' })));
  const deregister: RouteSchema = {
    summary: 'Deregister an instance the API registered (one from a definitions file is removed from its file)',
    params: S.InstanceIdParamsSchema,
    response: { 204: { description: 'deregistered' }, ...errors(400, 401, 404, 409) },
  };
  app.delete('/v1/services/:instanceId', { schema: deregister }, async (request: ById, reply) => {
    if (!(await registry.deregister(request.params.instanceId, { kind: 'api' }))) {
      throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `instance ${request.params.instanceId} is not registered on this node`);
    }
    return reply.status(204).send();
  });
  const pass: RouteSchema = { summary: "A ttl check's heartbeat", params: S.InstanceIdParamsSchema, response: { 204: { description: 'recorded' }, ...errors(400, 401, 404) } };
  app.put('/v1/checks/:instanceId/pass', { schema: pass }, async (request: ById, reply) => {
    await registry.passTtl(request.params.instanceId);
    return reply.status(204).send();
  });
  const fail: RouteSchema = {
    summary: "A ttl check's failure report (as Consul's check/fail): critical at once, until the next pass; `note` is the check's output",
    params: S.InstanceIdParamsSchema,
    querystring: S.CheckNoteQuerySchema,
    response: { 204: { description: 'recorded' }, ...errors(400, 401, 404) },
  };
  app.put('/v1/checks/:instanceId/fail', { schema: fail }, async (request: FastifyRequest<{ Params: { instanceId: string }; Querystring: { note?: string } }>, reply) => {
    await registry.failTtl(request.params.instanceId, request.query.note ?? 'failed through the agent API');
    return reply.status(204).send();
  });
  if (metrics !== undefined) {
    const schema: RouteSchema = { summary: "Prometheus metrics of this agent (scrape with the token as the bearer credential)", response: { 200: { description: 'the text exposition format' }, ...errors(401) } };
    app.get('/metrics', { schema }, async (_request, reply) => {
      const { contentType, body } = await metrics();
      return reply.type(contentType).header('cache-control', 'no-store').send(body);
    });
  }
  app.get('/openapi.json', { schema: { summary: 'This document', security: OPEN, response: { 200: { description: 'OpenAPI 3.1' } } } }, () => context.document());
}

/** Server-sent events: the matching instances now, then again after every change. */
function streamInstances(request: Query<S.CatalogQueryString>, reply: FastifyReply, reader: CatalogReader): void {
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
