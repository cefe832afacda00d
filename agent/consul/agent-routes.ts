import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MERIDIAN_VERSION } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import type { LocalRegistration } from '../registration/index.js';
import { setConsulHeaders, type ReadQuery } from './blocking.js';
import { pathName, type ConsulContext } from './context.js';
import { compileFilter } from './filter.js';
import { nodeId, nodeMetaOf, serviceJson } from './model.js';
import { parseConsulRegistration, toDefinition } from './register.js';

type ById = FastifyRequest<{ Params: { id: string }; Querystring: { note?: string } }>;

const SERVICE_FIELDS = ['ID', 'Service', 'Tags', 'Address', 'Meta', 'Port', 'Weights', 'EnableTagOverride', 'Datacenter'];
const API = { kind: 'api' } as const;

/** A check ID as Consul names a service's check (`service:<id>`), or the bare service ID. */
function instanceOfCheck(checkId: string): string {
  return pathName(checkId.startsWith('service:') ? checkId.slice('service:'.length) : checkId, 'check_id');
}

function registered(context: ConsulContext, instanceId: string): LocalRegistration {
  const found = context.registry.list().find((r) => r.instance.instanceId === instanceId);
  if (found === undefined) throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `Unknown check ID "service:${instanceId}": no service ${instanceId} is registered on this agent`);
  return found;
}

/** `/v1/agent/self` and `/v1/agent/services`: this agent and its node's services (from definitions files and the APIs). */
export function agentReadRoutes(app: FastifyInstance, context: ConsulContext): void {
  const { node } = context;
  app.get('/v1/agent/self', (_request, reply) => {
    setConsulHeaders(reply, { reader: context.reader, connected: context.connected, localSite: node.site });
    return {
      Config: { Datacenter: node.site, PrimaryDatacenter: node.site, NodeName: node.node, NodeID: nodeId(node.site, node.node), Server: false, Revision: '', Version: MERIDIAN_VERSION },
      Member: { Name: node.node, Addr: '127.0.0.1', Port: 0, Tags: { dc: node.site, role: 'node', build: `meridian-${MERIDIAN_VERSION}` }, Status: 1 },
      Meta: nodeMetaOf(node),
    };
  });
  app.get('/v1/agent/services', (request: FastifyRequest<{ Querystring: ReadQuery }>, reply) => {
    const filter = compileFilter(typeof request.query.filter === 'string' ? request.query.filter : undefined, SERVICE_FIELDS);
    setConsulHeaders(reply, { reader: context.reader, connected: context.connected, localSite: node.site });
    const services = context.registry.list().map((r) => serviceJson(r.instance));
    return Object.fromEntries(services.filter((s) => filter === undefined || filter(s)).map((s): [string, unknown] => [String(s['ID']), s]));
  });
}

/**
 * The writes, all PUT as in Consul: register (a Meridian service through the agent's registrar,
 * exactly as one registered through the agent API), deregister, and a TTL check's pass, warn
 * (counted as a pass: Meridian has no warning state) and fail.
 */
export function agentWriteRoutes(app: FastifyInstance, context: ConsulContext): void {
  app.put('/v1/agent/service/register', async (request, reply: FastifyReply) => {
    const definition = toDefinition(parseConsulRegistration(request.body));
    await context.registry.register(definition, API);
    return reply.send();
  });
  app.put('/v1/agent/service/deregister/:id', async (request: ById, reply) => {
    const id = pathName(request.params.id, 'service_id');
    if (!(await context.registry.deregister(id, API))) throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `Unknown service ID "${id}": it is not registered on this agent`);
    return reply.send();
  });
  for (const action of ['pass', 'warn', 'fail'] as const) {
    app.put(`/v1/agent/check/${action}/:id`, async (request: ById, reply) => {
      const instanceId = instanceOfCheck(request.params.id);
      registered(context, instanceId);
      const note = (request.query.note ?? '').slice(0, 256);
      if (action === 'fail') await context.registry.failTtl(instanceId, `TTL check failed through the Consul API${note === '' ? '' : `: ${note}`}`);
      else await context.registry.passTtl(instanceId);
      return reply.send();
    });
  }
}
