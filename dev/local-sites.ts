import { copyFileSync } from 'node:fs';
import { PkiDirectory } from '../shared/identity/index.js';
import { startSupercluster, type SuperclusterHandle } from '../test/support/servers/index.js';
import { bootstrapSiteCatalog, prepareSiteNats, type SiteNatsSetup } from '../services/site/nats-bootstrap.js';

/** Sites on this machine: a trust domain in `dir`, and one secured NATS cluster per site, linked. */
export interface LocalSites {
  readonly pki: PkiDirectory;
  readonly setups: ReadonlyMap<string, SiteNatsSetup>;
  readonly nats: SuperclusterHandle;
}

/** Where a site's nats-server keeps the files its control service manages (config `natsServer`). */
export interface SiteServerFiles {
  /** nats-server's `pid_file`: where the control service sends SIGHUP after replacing the certificate. */
  readonly pidFile: string;
  /** nats-server's `tls.ca_file`, a copy of bundle.pem the control service rewrites when the bundle changes. */
  readonly caFile: string;
}

/**
 * Bootstraps sites the way an operator would, on one machine (the demo, tests, benchmarks): the
 * root CA, each site's CA and NATS access (TLS with its `nats` identity, site users that may write
 * only their own catalog), the supercluster, and each site's catalog bucket. The caller stops
 * `nats` and removes `dir`.
 */
export async function startLocalSites(options: {
  dir: string;
  trustDomain: string;
  sites: readonly string[];
  startTimeoutMs?: number;
  /** Give each nats-server a pid file and its own CA file (default: the PKI dir's bundle.pem, no pid file). */
  serverFiles?: (site: string) => SiteServerFiles;
}): Promise<LocalSites> {
  const pki = new PkiDirectory(options.dir);
  pki.initRoot({ trustDomain: options.trustDomain });
  const setups = new Map<string, SiteNatsSetup>();
  for (const site of options.sites) {
    pki.createSite(site);
    setups.set(site, prepareSiteNats(pki, site));
  }
  const setupOf = (site: string): SiteNatsSetup => {
    const setup = setups.get(site);
    if (setup === undefined) throw new Error(`no NATS setup for site ${site}`);
    return setup;
  };
  const files = options.serverFiles;
  for (const site of options.sites) if (files !== undefined) copyFileSync(pki.bundlePath, files(site).caFile);
  const nats = await startSupercluster({
    sites: options.sites,
    tls: (site) => ({ ...setupOf(site).tls, ...(files === undefined ? {} : { caFile: files(site).caFile }), timeoutSeconds: 5 }),
    extraConfig: (site) => (files === undefined ? '' : `pid_file: ${JSON.stringify(files(site).pidFile)}\n`) + setupOf(site).authorization,
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
  });
  try {
    await Promise.all(options.sites.map((site) => bootstrapSiteCatalog({ pki, site, setup: setupOf(site), url: nats.site(site).url })));
  } catch (error) {
    await nats.stop();
    throw error;
  }
  return { pki, setups, nats };
}
