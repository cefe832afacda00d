import { FederatedView, SiteState, parseServiceDefinition, toInstance, type HealthState, type PartitionPolicy } from '../../../../shared/catalog/index.js';
import type { DnsZoneSource } from '../../../../agent/dns/index.js';

/** One instance a test puts in the catalog. */
export interface SeedInstance {
  readonly service: string;
  readonly instanceId: string;
  readonly site: string;
  readonly address: string;
  readonly port: number;
  readonly health?: HealthState;
  readonly partition?: PartitionPolicy;
}

/** A real federated view (not attached to NATS) seeded as from a snapshot, on a clock the test moves. */
export class SeededCatalog {
  now = 1_000_000;
  readonly view: FederatedView;
  readonly #states = new Map<string, SiteState>();

  constructor(options: { staleAfterMs?: number } = {}) {
    this.view = new FederatedView({ sites: ['east'], staleAfterMs: options.staleAfterMs ?? 3000, now: () => this.now });
  }

  /** Adds instances (each on its own node) and re-seeds their sites, heard from now. */
  add(...instances: SeedInstance[]): void {
    for (const spec of instances) {
      const state = this.#states.get(spec.site) ?? new SiteState(spec.site);
      this.#states.set(spec.site, state);
      const definition = parseServiceDefinition({ service: spec.service, instanceId: spec.instanceId, address: spec.address, ports: { http: spec.port } }, 'seed');
      const node = { site: spec.site, region: `region-${spec.site}`, zone: `${spec.site}-a`, platform: 'vm' as const, node: `node-${spec.instanceId}` };
      const base = toInstance(definition, node, { leaseTtlMs: 3000 });
      const instance = { ...base, health: spec.health ?? 'passing', partition: spec.partition ?? base.partition };
      const key = `svc.${spec.service}.${spec.instanceId}`;
      state.instances.set(key, { instance, revision: state.instances.size + 1, key });
    }
    this.touch();
  }

  /** Every seeded site was heard from now. */
  touch(): void {
    for (const state of this.#states.values()) {
      state.lastHeardAt = this.now;
      this.view.seed(state);
    }
  }
}

/** A zone source over `catalog` as site east's agent, `.mesh` pointing at 127.0.0.1. */
export function zoneOf(catalog: SeededCatalog, options: { ttl?: number; meshAddress?: string | undefined } = {}): DnsZoneSource {
  const meshAddress = 'meshAddress' in options ? options.meshAddress : '127.0.0.1';
  return { catalog: catalog.view, site: 'east', meshAddress: () => meshAddress, ttl: options.ttl ?? 5 };
}
