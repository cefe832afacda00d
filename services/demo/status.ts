import { renderTable } from '../../shared/cli/index.js';
import type { RunningSite } from './federation.js';

/** What the demo reports per site; the status API issue grows this into the federation status. */
export interface SiteStatus {
  readonly site: string;
  readonly region: string;
  readonly platform: string;
  readonly nats: string;
  /** Remote sites whose NATS gateway link is up, in both directions. */
  readonly linkedSites: readonly string[];
  readonly jetstreamMetaLeader: string | undefined;
  readonly siteCaExpires: string;
  readonly gatewayCertExpires: string;
  /** Instances in the site agent's federated view, and how many are usable. */
  readonly catalogInstances: number;
  readonly catalogUsable: number;
}

interface Gatewayz {
  outbound_gateways?: Record<string, unknown>;
  inbound_gateways?: Record<string, unknown>;
}

interface Jsz {
  meta_cluster?: { leader?: string };
}

async function monitor<T>(site: RunningSite, path: string): Promise<T> {
  const response = await fetch(`${site.monitorUrl}${path}`, { signal: AbortSignal.timeout(2000) });
  return (await response.json()) as T;
}

/** Reads each site's NATS monitoring endpoints and certificate expiries. */
export async function collectStatus(sites: readonly RunningSite[]): Promise<SiteStatus[]> {
  return Promise.all(
    sites.map(async (site) => {
      const [gatewayz, jsz] = await Promise.all([monitor<Gatewayz>(site, '/gatewayz'), monitor<Jsz>(site, '/jsz')]);
      const outbound = Object.keys(gatewayz.outbound_gateways ?? {});
      const inbound = new Set(Object.keys(gatewayz.inbound_gateways ?? {}));
      return {
        site: site.name,
        region: site.region,
        platform: site.platform,
        nats: site.natsUrl,
        linkedSites: outbound.filter((name) => inbound.has(name)).sort(),
        jetstreamMetaLeader: jsz.meta_cluster?.leader,
        siteCaExpires: new Date(site.siteCa.validTo).toISOString(),
        gatewayCertExpires: new Date(site.gateway.certificate.validTo).toISOString(),
        catalogInstances: site.agent.view.query().length,
        catalogUsable: site.agent.view.query().filter((e) => e.usable).length,
      };
    }),
  );
}

/** Problems that make the federation unhealthy, each naming the site. */
export function problems(status: readonly SiteStatus[]): string[] {
  const found: string[] = [];
  for (const site of status) {
    const missing = status.map((s) => s.site).filter((s) => s !== site.site && !site.linkedSites.includes(s));
    if (missing.length > 0) found.push(`${site.site}: no NATS gateway link to ${missing.join(', ')}`);
    if (site.jetstreamMetaLeader === undefined) found.push(`${site.site}: no JetStream meta leader`);
    if (site.catalogUsable < status.length) found.push(`${site.site}: its agent sees ${site.catalogUsable} usable instances of ${status.length}`);
  }
  return found;
}

export function renderStatus(status: readonly SiteStatus[]): string {
  const header = ['site', 'region', 'platform', 'nats', 'linked sites', 'catalog (usable/seen)', 'site CA expires', 'gateway cert expires'];
  const rows = status.map((s) => [s.site, s.region, s.platform, s.nats, s.linkedSites.join(',') || '-', `${s.catalogUsable}/${s.catalogInstances}`, s.siteCaExpires.slice(0, 16), s.gatewayCertExpires.slice(0, 16)]);
  return renderTable(header, rows);
}
