import { fetchFederationStatus, type FederationStatus } from '../../services/status/index.js';
import type { DemoFederation, RunningSite } from './federation.js';

/** The federation status as `site`'s control service answers it (default: the first site). */
export function demoStatus(federation: DemoFederation, site: RunningSite | undefined = federation.sites[0]): Promise<FederationStatus> {
  if (site === undefined) throw new Error('the demo has no site');
  return fetchFederationStatus({ url: site.statusUrl, token: federation.statusToken });
}

/**
 * Polls until the federation reports healthy with every site reachable and at least
 * `crossSiteEdges` cross-site traffic edges (the calls the demo made), each with its tunnel, or
 * until `timeoutMs` passes; resolves with the last status either way (a fresh federation needs a
 * few report intervals).
 */
export async function waitForHealthy(federation: DemoFederation, crossSiteEdges: number, timeoutMs: number): Promise<FederationStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await demoStatus(federation);
    // Every pair of sites with traffic has its tunnel reported (gateways report once per interval).
    const crossSite = status.traffic.filter((t) => t.fromSite !== t.toSite);
    const pairs = new Set(crossSite.map((t) => `${t.fromSite}>${t.toSite}`));
    const linked = crossSite.length >= crossSiteEdges && [...pairs].every((pair) => status.links.some((l) => `${l.fromSite}>${l.toSite}` === pair));
    const complete = status.sites.length === federation.sites.length && status.sites.every((s) => s.reachable && s.agents.up > 0 && s.gateways.up > 0) && linked;
    if ((status.healthy && complete) || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The command that prints the status from a shell while the demo runs. */
export function statusCommand(federation: DemoFederation): string {
  return `bin/meridian status --url ${federation.sites[0]?.statusUrl ?? ''} --token-file ${federation.statusTokenFile}`;
}

/** The dashboard of the first site; the token travels in the fragment, which browsers never send. */
export function dashboardUrl(federation: DemoFederation): string {
  return `${federation.sites[0]?.statusUrl ?? ''}/dashboard#token=${federation.statusToken}`;
}
