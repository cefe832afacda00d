import type { CatalogEntry, HealthState, Protocol } from '../../../shared/catalog/index.js';
import {
  createRootAuthority,
  createSiteAuthority,
  issueLocalIdentity,
  type MtlsIdentity,
  type RootAuthority,
  type SiteAuthority,
} from '../../../shared/identity/index.js';
import {
  catalogResolver,
  directDialer,
  startInbound,
  startOutbound,
  type InboundOptions,
  type InboundProxy,
  type LocalService,
  type OutboundOptions,
  type OutboundProxy,
} from '../../../agent/proxy/index.js';

/** A trust domain built in memory for a test file, with site CAs made on demand. */
export class TestPki {
  readonly root: RootAuthority;
  private readonly sites = new Map<string, SiteAuthority>();

  constructor(trustDomain = 'acme.internal') {
    this.root = createRootAuthority({ trustDomain });
  }

  site(name: string): SiteAuthority {
    let authority = this.sites.get(name);
    if (authority === undefined) {
      authority = createSiteAuthority(this.root, name).authority;
      this.sites.set(name, authority);
    }
    return authority;
  }

  /** A fresh workload identity (new key, new serial) for `service` at `site`. */
  identity(site: string, service: string): MtlsIdentity & { serial: string } {
    const authority = this.site(site);
    const issued = issueLocalIdentity(authority, 'svc', service);
    return { privateKey: issued.privateKey, chain: issued.chain, bundle: authority.bundle, serial: issued.certificate.serialNumber };
  }
}

export function spiffe(site: string, service: string): string {
  return `spiffe://acme.internal/site/${site}/svc/${service}`;
}

/** Regions of the sites the tests use: eu and eu2 share a region, us is elsewhere. */
export const REGION: Readonly<Record<string, string>> = { eu: 'eu-west', eu2: 'eu-west', us: 'us-east' };

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

export function entry(spec: EntrySpec): CatalogEntry {
  const now = new Date().toISOString();
  const health = spec.health ?? 'passing';
  return {
    instance: {
      service: spec.service,
      instanceId: spec.instanceId,
      site: spec.site,
      region: REGION[spec.site] ?? 'nowhere',
      zone: `${spec.site}-a`,
      platform: 'vm',
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

/** A node: its inbound listener serving `services`, each with its own identity at `site`. */
export async function startNode(
  pki: TestPki,
  site: string,
  services: Record<string, LocalService>,
  extra: Partial<InboundOptions> = {},
): Promise<InboundProxy> {
  const identities = new Map(Object.keys(services).map((name) => [name, pki.identity(site, name)] as const));
  return startInbound({ port: 0, identities, localServices: (name) => services[name], ...extra });
}

/** A calling service's outbound listener at `site`, dialing instances directly from the catalog. */
export async function startCaller(
  pki: TestPki,
  catalog: TestCatalog,
  caller: { site: string; service: string },
  extra: Partial<OutboundOptions> = {},
): Promise<OutboundProxy> {
  return startOutbound({
    service: caller.service,
    identity: pki.identity(caller.site, caller.service),
    locality: { site: caller.site, region: REGION[caller.site] ?? 'nowhere' },
    candidates: catalog.candidates,
    dialer: directDialer(catalogResolver(catalog.candidates)),
    http: 0,
    ...extra,
  });
}
