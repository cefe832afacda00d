import { createHash } from 'node:crypto';
import type { CatalogEntry, ServiceInstance } from '../../shared/catalog/index.js';

/** Consul tags are stored as labels `consul.tag.<n>` (a tag is free text, a label key is not). */
export const TAG_LABEL_PREFIX = 'consul.tag.';

/** A stable UUID-shaped node ID from the site and node name (Consul node IDs are UUIDs). */
export function nodeId(site: string, node: string): string {
  const hex = createHash('sha256').update(`${site}/${node}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The port Consul shows: the instance's first named port (the one its default check and the inbound proxy use). */
export function primaryPort(instance: ServiceInstance): number {
  return Object.values(instance.ports)[0] ?? 0;
}

/** The Consul tags of an instance, in registration order. */
export function tagsOf(instance: ServiceInstance): string[] {
  return Object.entries(instance.labels)
    .filter(([key]) => key.startsWith(TAG_LABEL_PREFIX))
    .sort(([a], [b]) => Number(a.slice(TAG_LABEL_PREFIX.length)) - Number(b.slice(TAG_LABEL_PREFIX.length)))
    .map(([, value]) => value);
}

/** Service meta: the labels that are not tags. */
export function metaOf(instance: ServiceInstance): Record<string, string> {
  return Object.fromEntries(Object.entries(instance.labels).filter(([key]) => !key.startsWith(TAG_LABEL_PREFIX)));
}

/** Node meta: where the node runs, as Meridian's locality says. */
export function nodeMetaOf(instance: Pick<ServiceInstance, 'region' | 'zone' | 'platform'>): Record<string, string> {
  return { 'meridian-region': instance.region, 'meridian-zone': instance.zone, 'meridian-platform': instance.platform };
}

/** `/v1/catalog/nodes` and the `Node` of a health entry. */
export function nodeJson(instance: ServiceInstance, index: number): Record<string, unknown> {
  return {
    ID: nodeId(instance.site, instance.node),
    Node: instance.node,
    Address: instance.address,
    Datacenter: instance.site,
    TaggedAddresses: { lan: instance.address, wan: instance.address },
    Meta: nodeMetaOf(instance),
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** The agent's and the health endpoint's service shape. */
export function serviceJson(instance: ServiceInstance, index?: number): Record<string, unknown> {
  return {
    ID: instance.instanceId,
    Service: instance.service,
    Tags: tagsOf(instance),
    Address: instance.address,
    Meta: metaOf(instance),
    Port: primaryPort(instance),
    Weights: { Passing: instance.weight, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: instance.site,
    ...(index === undefined ? {} : { CreateIndex: index, ModifyIndex: index }),
  };
}

/** `/v1/catalog/service/:name`: node and service fields flattened. */
export function catalogServiceJson(entry: CatalogEntry, index: number): Record<string, unknown> {
  const { instance } = entry;
  const node = nodeJson(instance, index);
  return {
    ID: node['ID'],
    Node: instance.node,
    Address: instance.address,
    Datacenter: instance.site,
    TaggedAddresses: node['TaggedAddresses'],
    NodeMeta: node['Meta'],
    ServiceKind: '',
    ServiceID: instance.instanceId,
    ServiceName: instance.service,
    ServiceTags: tagsOf(instance),
    ServiceAddress: instance.address,
    ServiceWeights: { Passing: instance.weight, Warning: 1 },
    ServiceMeta: metaOf(instance),
    ServicePort: primaryPort(instance),
    ServiceEnableTagOverride: false,
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/**
 * Consul's status of an instance: `passing` while Meridian would route to it (passing health, and
 * fresh or stale within its partition budget), `critical` otherwise; the output says why.
 */
export function checkStatus(entry: CatalogEntry): { status: 'passing' | 'critical'; output: string } {
  const { instance } = entry;
  const age = entry.stale ? `; site ${instance.site} last heard ${entry.ageMs < 0 ? 'never' : `${entry.ageMs} ms ago`} (${instance.partition.mode})` : '';
  if (entry.usable) return { status: 'passing', output: `Meridian health: passing${age}` };
  return { status: 'critical', output: `Meridian health: ${instance.health}${age}${instance.health === 'passing' ? ', past its staleness budget' : ''}` };
}

/** The one check of an instance, named as Consul names a service's check. */
export function checkJson(entry: CatalogEntry, index: number): Record<string, unknown> {
  const { instance } = entry;
  const { status, output } = checkStatus(entry);
  return {
    Node: instance.node,
    CheckID: `service:${instance.instanceId}`,
    Name: `Service '${instance.service}' check`,
    Status: status,
    Notes: '',
    Output: output,
    ServiceID: instance.instanceId,
    ServiceName: instance.service,
    ServiceTags: tagsOf(instance),
    Type: 'meridian',
    Definition: {},
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** One entry of `/v1/health/service/:name`. */
export function healthEntryJson(entry: CatalogEntry, index: number): Record<string, unknown> {
  return { Node: nodeJson(entry.instance, index), Service: serviceJson(entry.instance, index), Checks: [checkJson(entry, index)] };
}
