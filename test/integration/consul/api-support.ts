import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FederatedView, SiteCatalogWriter, ensureSiteBucket, parseServiceDefinition, toInstance, type NodeContext, type ServiceInstance } from '../../../shared/catalog/index.js';
import { Registrar } from '../../../agent/registration/index.js';
import { startConsulApi, type ConsulApi } from '../../../agent/consul/index.js';
import { fileScope, useNatsServer } from '../../support/harness.js';

export const TOKEN = 'consul-api-test-token-0123456789';
export const TOKEN_FILE = '/var/lib/meridian/agent/api-token';
/** The agent under test runs in site east; site west is another site of the federation. */
export const EAST: NodeContext = { site: 'east', region: 'region-east', zone: 'east-a', platform: 'vm', node: 'east-1' };
const WEST_LEASE_MS = 600_000;

/** A Consul-compatible API over a real registrar and a real federated view, on one real nats-server holding both sites' buckets. */
export interface ConsulFixture {
  readonly api: ConsulApi;
  readonly registrar: Registrar;
  readonly view: FederatedView;
  readonly nc: NatsConnection;
  /** Writes an instance into site west's catalog, as west's own agent would. */
  putWest(service: string, node: string, definition: Record<string, unknown>): Promise<ServiceInstance>;
  removeWest(instance: ServiceInstance): Promise<void>;
  /** A request with the token in X-Consul-Token unless `headers` says otherwise. */
  call(path: string, init?: { method?: string; body?: string; headers?: Record<string, string> }): Promise<Response>;
}

export async function startConsulFixture(options: { anonymousReads?: boolean; maxBlockingQueries?: number } = {}): Promise<ConsulFixture> {
  const nats = await useNatsServer();
  const nc = await connect({ servers: nats.url });
  fileScope.after(() => nc.close());
  const eastWriter = new SiteCatalogWriter(await ensureSiteBucket(nc, 'east'), 'east');
  const westWriter = new SiteCatalogWriter(await ensureSiteBucket(nc, 'west'), 'west');
  const view = new FederatedView({ staleAfterMs: 60_000, discoveryIntervalMs: 500 });
  view.connect(nc);
  fileScope.after(() => Promise.resolve(view.close()));
  await view.ready(10_000);
  const registrar = new Registrar({ node: EAST, heartbeatMs: 1000 });
  registrar.attach(eastWriter);
  fileScope.after(() => registrar.stop({ deregister: true }));
  const api = await startConsulApi({
    host: '127.0.0.1',
    port: 0,
    registry: registrar,
    reader: view,
    node: EAST,
    connected: () => !nc.isClosed(),
    access: { token: TOKEN, tokenFile: TOKEN_FILE, anonymousReads: options.anonymousReads ?? false },
    ...(options.maxBlockingQueries === undefined ? {} : { maxBlockingQueries: options.maxBlockingQueries }),
  });
  fileScope.after(() => api.close());
  return {
    api,
    registrar,
    view,
    nc,
    async putWest(service, node, definition) {
      const parsed = parseServiceDefinition({ service, ...definition }, 'test');
      const instance = toInstance(parsed, { site: 'west', region: 'region-west', zone: 'west-a', platform: 'vm', node }, { leaseTtlMs: WEST_LEASE_MS });
      await westWriter.renewLease(node, WEST_LEASE_MS);
      await westWriter.put(instance);
      return instance;
    },
    removeWest: (instance) => westWriter.remove(instance.service, instance.instanceId),
    call: (path, init = {}) =>
      fetch(`${api.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { 'x-consul-token': TOKEN, ...init.headers },
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: AbortSignal.timeout(10_000),
      }),
  };
}
