import type { ServiceInstance } from '../shared/catalog/types.js';
import { describeTarget, type GatewayAddress, type MeshTarget } from '../shared/mesh/index.js';
import type { GatewayResolver, LocalEndpoint, LocalRefusal } from './types.js';

/** The catalog fields the gateway's delivery rules read. */
export type RoutableInstance = Pick<ServiceInstance, 'service' | 'instanceId' | 'site' | 'address' | 'meshPort' | 'exported' | 'health'>;

/**
 * The delivery rules for a stream from another site, given the catalog's entry for the target
 * instance id (undefined when there is none). A catalog-backed resolver only looks the instance up
 * and calls this, so every resolver refuses the same way.
 */
export function checkLocalInstance(target: MeshTarget, instance: RoutableInstance | undefined): LocalEndpoint | LocalRefusal {
  const name = describeTarget(target);
  if (instance === undefined || instance.site !== target.site) return { refused: `unknown instance ${name}`, status: 404 };
  if (instance.service !== target.service) return { refused: `instance ${target.instanceId} is not an instance of service ${target.service}`, status: 404 };
  if (instance.exported !== true) return { refused: `service ${target.service} of site ${target.site} is not exported to other sites`, status: 403 };
  if (instance.meshPort === undefined) return { refused: `instance ${name} has no mesh port (its agent runs no inbound listener)`, status: 503 };
  if (instance.health !== 'passing') return { refused: `instance ${name} is not passing its health checks (${instance.health})`, status: 503 };
  return { address: instance.address, meshPort: instance.meshPort };
}

/** Contents of a {@link staticResolver}: the site's instances and the other sites' gateways. */
export interface StaticResolverInput {
  readonly instances: readonly RoutableInstance[];
  readonly gateways: Readonly<Record<string, GatewayAddress>>;
}

/**
 * A resolver over fixed data: for tests, and for a gateway configured from a file. The maps
 * stay live, so `set`/`remove` on the returned object change routing for the next stream.
 */
export function staticResolver(input: StaticResolverInput): GatewayResolver & {
  setInstance(instance: RoutableInstance): void;
  setGateway(site: string, address: GatewayAddress | undefined): void;
} {
  const instances = new Map(input.instances.map((i) => [i.instanceId, i]));
  const gateways = new Map(Object.entries(input.gateways));
  return {
    localInstance: (target) => checkLocalInstance(target, instances.get(target.instanceId)),
    gatewayFor: (site) => gateways.get(site),
    setInstance: (instance) => void instances.set(instance.instanceId, instance),
    setGateway: (site, address) => void (address === undefined ? gateways.delete(site) : gateways.set(site, address)),
  };
}
