import type { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PkiDirectory, type IssuedCertificate } from '../../shared/identity/index.js';
import { startSupercluster, type SuperclusterHandle } from '../../shared/servers/index.js';
import { DEMO_SITES, DEMO_TRUST_DOMAIN, type DemoSite } from './topology.js';

/** One running demo site: its NATS cluster and the identities issued for it. */
export interface RunningSite extends DemoSite {
  readonly natsUrl: string;
  readonly monitorUrl: string;
  readonly siteCa: X509Certificate;
  readonly gateway: IssuedCertificate & { keyPath: string; certPath: string };
  readonly agent: IssuedCertificate & { keyPath: string; certPath: string };
}

/** The local federation: a trust domain on disk and a NATS supercluster, one cluster per site. */
export interface DemoFederation {
  readonly pki: PkiDirectory;
  readonly nats: SuperclusterHandle;
  readonly sites: readonly RunningSite[];
  stop(): Promise<void>;
}

/**
 * Brings the demo up the way an operator would: create the trust domain, issue each site's
 * intermediate CA (its key made in the site's own directory), issue each site's gateway and
 * agent identities, and start the sites' NATS clusters linked as a supercluster.
 */
export async function startDemoFederation(log: (line: string) => void): Promise<DemoFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-demo-'));
  const pki = new PkiDirectory(join(dir, 'pki'));
  const root = pki.initRoot({ trustDomain: DEMO_TRUST_DOMAIN });
  log(`trust domain ${root.trustDomain}: root CA in ${pki.dir}`);
  const identities = DEMO_SITES.map((site) => {
    const siteCa = pki.createSite(site.name).certificate;
    return {
      site,
      siteCa,
      gateway: pki.issueIdentity(site.name, 'gateway', 'gw-1'),
      agent: pki.issueIdentity(site.name, 'agent', `${site.name}-node-1`),
    };
  });
  log(`issued ${identities.length} site CAs and their gateway and agent identities`);
  let nats: SuperclusterHandle;
  try {
    nats = await startSupercluster({ sites: DEMO_SITES.map((s) => s.name) });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const sites = identities.map(({ site, siteCa, gateway, agent }) => {
    const handle = nats.site(site.name);
    return { ...site, natsUrl: handle.url, monitorUrl: handle.monitorUrl, siteCa, gateway, agent };
  });
  return {
    pki,
    nats,
    sites,
    async stop() {
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
