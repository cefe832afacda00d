import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CatalogEntry } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { blockingOf, setConsulHeaders, type ReadQuery } from './blocking.js';
import { datacenterOf, entriesOf, pathName, type ConsulContext } from './context.js';
import { compileFilter, type RowFilter } from './filter.js';
import { catalogServiceJson, checkJson, healthEntryJson, nodeJson, serviceJson, tagsOf } from './model.js';

type Read = FastifyRequest<{ Querystring: ReadQuery; Params: Record<string, string> }>;

/** Parameters that would narrow a result in Consul and that Meridian cannot honour: refused, never ignored. */
const REFUSED_PARAMS: Record<string, string> = {
  'node-meta': 'node-meta is not supported; use filter on Node.Meta',
  peer: 'cluster peering is not supported: federated sites are datacenters (dc=<site>)',
  sg: 'sameness groups are not supported',
};

const CATALOG_FIELDS = ['ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'NodeMeta', 'ServiceKind', 'ServiceID', 'ServiceName', 'ServiceTags', 'ServiceAddress', 'ServiceWeights', 'ServiceMeta', 'ServicePort', 'ServiceEnableTagOverride'];
const HEALTH_FIELDS = ['Node', 'Service', 'Checks'];
const CHECK_FIELDS = ['Node', 'CheckID', 'Name', 'Status', 'Notes', 'Output', 'ServiceID', 'ServiceName', 'ServiceTags', 'Type'];
const NODE_FIELDS = ['ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'Meta'];
const SERVICE_FIELDS = ['ID', 'Service', 'Tags', 'Address', 'Meta', 'Port', 'Weights', 'EnableTagOverride', 'Datacenter'];

function refuseParams(query: ReadQuery): void {
  for (const [name, why] of Object.entries(REFUSED_PARAMS)) if (query[name] !== undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${name}: ${why}`);
  for (const name of ['ns', 'partition']) {
    const value = query[name];
    if (value !== undefined && value !== '' && value !== 'default') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${name}: only "default" exists in Meridian`);
  }
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value) && name !== 'tag') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${name}: given more than once`);
  }
}

/**
 * One read: checks the parameters, waits when it is a blocking query, then renders `produce` for
 * the datacenter asked for, with Consul's index headers. The filter is compiled before waiting, so
 * a bad filter fails at once rather than after the wait.
 */
function read(context: ConsulContext, fields: readonly string[], produce: (site: string, request: Read, filter: RowFilter | undefined) => unknown) {
  return async (request: Read, reply: FastifyReply): Promise<unknown> => {
    refuseParams(request.query);
    const site = datacenterOf(context, request.query.dc);
    const filter = compileFilter(typeof request.query.filter === 'string' ? request.query.filter : undefined, fields);
    const blocking = blockingOf(request.query);
    if (blocking !== undefined) await context.gate.block(context.reader, request, blocking);
    setConsulHeaders(reply, { reader: context.reader, connected: context.connected, localSite: context.node.site });
    return produce(site, request, filter);
  };
}

function keep<T extends Record<string, unknown>>(rows: T[], filter: RowFilter | undefined): T[] {
  return filter === undefined ? rows : rows.filter(filter);
}

function tagsQuery(request: Read): string[] {
  const tag = request.query['tag'];
  return tag === undefined ? [] : [tag].flat();
}

function hasTags(entry: CatalogEntry, tags: readonly string[]): boolean {
  if (tags.length === 0) return true;
  const own = tagsOf(entry.instance);
  return tags.every((tag) => own.includes(tag));
}

/** Consul treats a bare `?passing` as true; `passing=false` (or 0) as false. */
function flag(value: string | string[] | undefined): boolean {
  return value !== undefined && value !== 'false' && value !== '0';
}

/** Nodes of a site: one per node name, its address from its first instance. */
function nodesOf(context: ConsulContext, site: string, index: number): Record<string, unknown>[] {
  const nodes = new Map<string, Record<string, unknown>>();
  for (const { instance } of entriesOf(context, site)) if (!nodes.has(instance.node)) nodes.set(instance.node, nodeJson(instance, index));
  if (site === context.node.site && !nodes.has(context.node.node)) {
    nodes.set(context.node.node, nodeJson({ ...context.node, address: '127.0.0.1' } as Parameters<typeof nodeJson>[0], index));
  }
  return [...nodes.values()].sort((a, b) => String(a['Node']).localeCompare(String(b['Node'])));
}

/** `/v1/catalog/*`: datacenters (the sites, this one first), services, a service's instances, nodes, a node. */
export function catalogRoutes(app: FastifyInstance, context: ConsulContext): void {
  const index = (): number => Math.max(1, context.reader.revision);
  app.get('/v1/catalog/datacenters', (_request, reply) => {
    setConsulHeaders(reply, { reader: context.reader, connected: context.connected, localSite: context.node.site });
    const others = context.reader.sites().map((s) => s.site).filter((s) => s !== context.node.site).sort();
    return [context.node.site, ...others];
  });
  app.get('/v1/catalog/services', read(context, CATALOG_FIELDS, (site, _request, filter) => {
    const services: Record<string, string[]> = {};
    for (const entry of entriesOf(context, site)) {
      if (filter !== undefined && !filter(catalogServiceJson(entry, index()))) continue;
      const tags = (services[entry.instance.service] ??= []);
      for (const tag of tagsOf(entry.instance)) if (!tags.includes(tag)) tags.push(tag);
    }
    return Object.fromEntries(Object.entries(services).sort(([a], [b]) => a.localeCompare(b)));
  }));
  app.get('/v1/catalog/service/:name', read(context, CATALOG_FIELDS, (site, request, filter) => {
    const service = pathName(request.params['name'] ?? '', 'service');
    const tags = tagsQuery(request);
    return keep(entriesOf(context, site, service).filter((e) => hasTags(e, tags)).map((e) => catalogServiceJson(e, index())), filter);
  }));
  app.get('/v1/catalog/nodes', read(context, NODE_FIELDS, (site, _request, filter) => keep(nodesOf(context, site, index()), filter)));
  app.get('/v1/catalog/node/:node', read(context, SERVICE_FIELDS, (site, request, filter) => {
    const name = pathName(request.params['node'] ?? '', 'node');
    const node = nodesOf(context, site, index()).find((n) => n['Node'] === name);
    // Consul answers an unknown node with a JSON null, not a 404.
    if (node === undefined) return null;
    const services: Record<string, unknown>[] = entriesOf(context, site).filter((e) => e.instance.node === name).map((e) => serviceJson(e.instance, index()));
    return { Node: node, Services: Object.fromEntries(keep(services, filter).map((s): [string, unknown] => [String(s['ID']), s])) };
  }));
}

/** `/v1/health/service/:name` (passing, tag, filter) and `/v1/health/checks/:name`. */
export function healthRoutes(app: FastifyInstance, context: ConsulContext): void {
  const index = (): number => Math.max(1, context.reader.revision);
  app.get('/v1/health/service/:name', read(context, HEALTH_FIELDS, (site, request, filter) => {
    const service = pathName(request.params['name'] ?? '', 'service');
    const tags = tagsQuery(request);
    const passing = flag(request.query['passing']);
    const entries = entriesOf(context, site, service).filter((e) => hasTags(e, tags) && (!passing || e.usable));
    return keep(entries.map((e) => healthEntryJson(e, index())), filter);
  }));
  app.get('/v1/health/checks/:name', read(context, CHECK_FIELDS, (site, request, filter) => {
    const service = pathName(request.params['name'] ?? '', 'service');
    return keep(entriesOf(context, site, service).map((e) => checkJson(e, index())), filter);
  }));
}

/** `/v1/status/leader`: this listener while the agent reaches its site's NATS, "" (no leader) otherwise. */
export function statusRoutes(app: FastifyInstance, context: ConsulContext): void {
  app.get('/v1/status/leader', (_request, reply) => reply.type('application/json').send(JSON.stringify(context.connected() ? context.address() : '')));
}
