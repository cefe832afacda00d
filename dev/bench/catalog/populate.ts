import { SiteCatalogWriter, ensureSiteBucket, parseServiceDefinition, toInstance, type NodeContext, type ServiceDefinition } from '../../../shared/catalog/index.js';
import type { BenchFederation } from './federation.js';

/** The simulated shape of one site's catalog. */
export interface SiteLoad {
  readonly instances: number;
  readonly nodes: number;
  /** Distinct service names, shared by every site. */
  readonly services: number;
  /** TTL of the leases and of the instances: longer than the whole case, so nothing expires mid-measurement. */
  readonly leaseTtlMs: number;
}

/** A populated site: its writer stays open to renew the simulated nodes' leases. */
export interface PopulatedSite {
  readonly site: string;
  readonly nodes: readonly string[];
  renewLeases(): Promise<void>;
}

const IN_FLIGHT = 256;

export function simulatedNode(site: string, index: number): NodeContext {
  return { site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm', node: `${site}-n${index}` };
}

/**
 * Creates the site's bucket (as its bootstrap would, with the site's own credential), writes one
 * lease per simulated node, then the instances, pipelined with at most IN_FLIGHT puts outstanding.
 */
export async function populateSite(fed: BenchFederation, site: string, load: SiteLoad, deadline: number): Promise<PopulatedSite> {
  const nc = await fed.connect(site, `${site}-loader`);
  const writer = new SiteCatalogWriter(await ensureSiteBucket(nc, site, { deadlineMs: 60_000 }), site);
  const nodes = Array.from({ length: load.nodes }, (_, i) => simulatedNode(site, i));
  const renewLeases = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => writer.renewLease(n.node, load.leaseTtlMs)));
  };
  await renewLeases();
  const templates: ServiceDefinition[] = Array.from({ length: load.services }, (_, i) =>
    parseServiceDefinition({ service: `svc-${String(i).padStart(4, '0')}`, ports: { http: 8080 }, version: '1.4.2', labels: { team: `team-${i % 17}`, tier: 'backend' } }, 'bench'),
  );
  const now = new Date();
  for (let start = 0; start < load.instances; start += IN_FLIGHT) {
    if (Date.now() > deadline) throw new Error(`populating site ${site}: time bound reached after ${start} of ${load.instances} instances`);
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(load.instances, start + IN_FLIGHT); i++) {
      const template = templates[i % load.services] ?? templates[0];
      const node = nodes[i % load.nodes] ?? simulatedNode(site, 0);
      if (template === undefined) throw new Error('no service templates');
      const definition = { ...template, instanceId: `${site}-i${i}`, ports: { http: 10_000 + (i % 50_000) } };
      batch.push(writer.put(toInstance(definition, node, { leaseTtlMs: load.leaseTtlMs, now })));
    }
    await Promise.all(batch);
  }
  return { site, nodes: nodes.map((n) => n.node), renewLeases };
}
