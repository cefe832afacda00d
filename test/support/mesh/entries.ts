import type { CatalogEntry, HealthState, Protocol } from '../../../shared/catalog/index.js';
import type { RoutableInstance } from '../../../gateway/index.js';
import { locality } from './sites.js';

/** What a test says about an instance; the rest gets plausible defaults. */
export interface EntrySpec {
  service: string;
  instanceId: string;
  site: string;
  meshPort: number | undefined;
  weight?: number;
  health?: HealthState;
  usable?: boolean;
  stale?: boolean;
  exported?: boolean;
  protocol?: Protocol;
}

/** A catalog entry as an agent's federated view holds it. */
export function entry(spec: EntrySpec): CatalogEntry {
  const now = new Date().toISOString();
  const health = spec.health ?? 'passing';
  const { region, zone, platform } = locality(spec.site);
  return {
    instance: {
      service: spec.service,
      instanceId: spec.instanceId,
      site: spec.site,
      region,
      zone,
      platform,
      node: `node-${spec.instanceId}`,
      address: '127.0.0.1',
      ports: { http: 1 },
      ...(spec.meshPort === undefined ? {} : { meshPort: spec.meshPort }),
      exported: spec.exported ?? true,
      protocol: spec.protocol ?? 'http',
      version: '1.0.0',
      labels: {},
      weight: spec.weight ?? 100,
      health,
      partition: { mode: 'keep-last-known', maxStalenessMs: 600_000 },
      leaseTtlMs: 6000,
      registeredAt: now,
      updatedAt: now,
    },
    stale: spec.stale ?? false,
    ageMs: 0,
    usable: spec.usable ?? health === 'passing',
  };
}

/** A catalog the test edits in place: a plain array, as the brief allows. */
export class TestCatalog {
  entries: CatalogEntry[] = [];
  readonly candidates = (service: string): CatalogEntry[] => this.entries.filter((e) => e.instance.service === service);

  add(spec: EntrySpec): void {
    this.entries.push(entry(spec));
  }

  replace(instanceId: string, spec: Partial<EntrySpec>): void {
    this.entries = this.entries.map((e) => {
      if (e.instance.instanceId !== instanceId) return e;
      const { instance } = e;
      return entry({ service: instance.service, instanceId, site: instance.site, meshPort: instance.meshPort, weight: instance.weight, ...spec });
    });
  }
}

/** An instance as a gateway's resolver holds it (only the fields the gateway reads). */
export function instance(fields: Partial<RoutableInstance> & Pick<RoutableInstance, 'service' | 'instanceId' | 'site'>): RoutableInstance {
  return { address: '127.0.0.1', exported: true, health: 'passing', ...fields };
}
