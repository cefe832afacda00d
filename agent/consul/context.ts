import type { CatalogEntry, CatalogReader, NodeContext } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import type { LocalRegistry } from '../registration/index.js';
import type { BlockingGate } from './blocking.js';

/** What the Consul-compatible routes serve from. */
export interface ConsulContext {
  readonly reader: CatalogReader;
  readonly registry: LocalRegistry;
  readonly node: NodeContext;
  readonly connected: () => boolean;
  readonly gate: BlockingGate;
  /** `host:port` of this listener, answered by `/v1/status/leader` while the agent reaches NATS. */
  readonly address: () => string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** A path parameter (a service, node or ID) checked before use: it only ever keys a lookup, and must look like one. */
export function pathName(value: string, what: string): string {
  if (!NAME.test(value)) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${what}: ${JSON.stringify(value.slice(0, 64))} is not a valid name`);
  return value;
}

/** The datacenter a read asks for: `dc`, else this agent's site; an unknown one is refused (Consul: "No path to datacenter"). */
export function datacenterOf(context: ConsulContext, dc: string | undefined): string {
  if (dc === undefined || dc === '') return context.node.site;
  const sites = context.reader.sites().map((s) => s.site);
  if (!sites.includes(dc)) {
    throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `No path to datacenter: dc ${JSON.stringify(dc.slice(0, 64))} is not a site this agent follows (${sites.sort().join(', ')})`);
  }
  return dc;
}

/** Every instance of `site` (optionally of one service), in a stable order: by node, then ID. */
export function entriesOf(context: ConsulContext, site: string, service?: string): CatalogEntry[] {
  return context.reader
    .query({ site, ...(service === undefined ? {} : { service }) })
    .sort((a, b) => a.instance.node.localeCompare(b.instance.node) || a.instance.instanceId.localeCompare(b.instance.instanceId));
}
