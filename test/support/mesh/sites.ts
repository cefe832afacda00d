/**
 * Where the tests' sites are: one naming for every fixture (in-memory proxies and gateways, the
 * in-process federation mesh, agent processes), so a site means the same locality everywhere.
 */

/** Regions of the sites the proxy tests use: eu and eu2 share a region, us is elsewhere. Any other site is alone in `region-<site>`. */
export const REGION: Readonly<Record<string, string>> = { eu: 'eu-west', eu2: 'eu-west', us: 'us-east' };

/** The region of `site`. */
export function regionOf(site: string): string {
  return REGION[site] ?? `region-${site}`;
}

/** A site's region, zone and platform, as agents, gateways and control services are configured with it. */
export function locality(site: string): { region: string; zone: string; platform: 'vm' } {
  return { region: regionOf(site), zone: `${site}-a`, platform: 'vm' };
}
