import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { siteConnectOptions, type NodeContext } from '../../shared/catalog/index.js';
import { PkiDirectory, readPrivateKey, type MtlsIdentity } from '../../shared/identity/index.js';
import type { SuperclusterHandle } from '../../shared/servers/index.js';
import { prepareSiteNats, type SiteNatsSetup } from '../../services/site/index.js';
import { fileScope, useSupercluster } from '../harness/index.js';

/** A secured federation for catalog tests: trust-domain TLS and per-site NATS users on every site. */
export interface SecureFederation {
  readonly nats: SuperclusterHandle;
  readonly pki: PkiDirectory;
  readonly setups: ReadonlyMap<string, SiteNatsSetup>;
  /** A new connection as an agent of `site`, to `site`'s server unless `server` names another. */
  connectAgent(site: string, node: string, server?: string): Promise<NatsConnection>;
  identity(site: string, node: string): MtlsIdentity;
  /** A connection as the site's control service (signer, reaper). */
  connectControl(site: string): Promise<NatsConnection>;
  node(site: string, node: string): NodeContext;
}

const REGIONS: Record<string, string> = {};

export async function startSecureFederation(sites: readonly string[]): Promise<SecureFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-catalog-pki-'));
  fileScope.after(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const pki = new PkiDirectory(dir);
  pki.initRoot({ trustDomain: 'acme.internal' });
  const setups = new Map<string, SiteNatsSetup>();
  for (const site of sites) {
    pki.createSite(site);
    setups.set(site, prepareSiteNats(pki, site));
    REGIONS[site] = `region-${site}`;
  }
  const nats = await useSupercluster({
    sites,
    tls: (site) => setups.get(site)?.tls ?? missing(site),
    extraConfig: (site) => setups.get(site)?.authorization ?? missing(site),
  });
  const connections: NatsConnection[] = [];
  fileScope.after(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  });
  const identities = new Map<string, MtlsIdentity>();
  const identity = (site: string, node: string): MtlsIdentity => {
    const key = `${site}/${node}`;
    let found = identities.get(key);
    if (found === undefined) {
      const issued = pki.issueIdentity(site, 'agent', node);
      found = { privateKey: readPrivateKey(issued.keyPath), chain: issued.chain, bundle: pki.loadBundle() };
      identities.set(key, found);
    }
    return found;
  };
  return {
    nats,
    pki,
    setups,
    identity,
    node: (site, node) => ({ site, node, region: REGIONS[site] ?? site, zone: `${site}-a`, platform: 'vm' }),
    async connectControl(site) {
      const setup = setups.get(site) ?? missing(site);
      const issued = pki.issueIdentity(site, 'svc', 'control');
      const control: MtlsIdentity = { privateKey: readPrivateKey(issued.keyPath), chain: issued.chain, bundle: pki.loadBundle() };
      const nc = await connect(siteConnectOptions({ servers: nats.site(site).url, site, user: 'control', password: setup.controlPassword, identity: control }));
      connections.push(nc);
      return nc;
    },
    async connectAgent(site, node, server = site) {
      const setup = setups.get(site) ?? missing(site);
      const nc = await connect(siteConnectOptions({ servers: nats.site(server).url, site, serverSite: server, password: setup.password, identity: identity(site, node) }));
      connections.push(nc);
      return nc;
    },
  };
}

function missing(site: string): never {
  throw new Error(`no setup for site ${site}`);
}
