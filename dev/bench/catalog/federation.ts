import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { siteConnectOptions } from '../../../shared/catalog/index.js';
import { PkiDirectory, type MtlsIdentity } from '../../../shared/identity/index.js';
import type { SuperclusterHandle } from '../../../test/support/servers/index.js';
import { connectAsControl, type SiteNatsSetup } from '../../../services/site/index.js';
import { startLocalSites, type SiteServerFiles } from '../../local-sites.js';

/**
 * A secured federation for benchmarks: trust-domain TLS and per-site NATS users, like the catalog
 * tests' fixture, but owned by the caller (no node:test teardown): call stop() in a finally.
 */
export interface BenchFederation {
  readonly nats: SuperclusterHandle;
  readonly pki: PkiDirectory;
  readonly setups: ReadonlyMap<string, SiteNatsSetup>;
  /** Seconds from the first nats-server spawn until gateways were linked and a meta leader existed. */
  readonly readySeconds: number;
  identity(site: string, node: string): MtlsIdentity;
  /** A new connection with `site`'s credential, to `server`'s nats-server (default `site`); closed by stop(). */
  connect(site: string, node: string, server?: string): Promise<NatsConnection>;
  /** A new connection as `site`'s control service (signer, reaper); closed by stop(). */
  connectControl(site: string): Promise<NatsConnection>;
  /** Closes connections, stops every nats-server and removes the PKI dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startBenchFederation}. */
export interface BenchFederationOptions {
  readonly sites: readonly string[];
  /** Bound on supercluster readiness. Default 60 000 ms. */
  readonly startTimeoutMs?: number;
  /** Each nats-server's pid file and CA file (see startLocalSites). */
  readonly serverFiles?: (site: string) => SiteServerFiles;
}

export async function startBenchFederation(options: BenchFederationOptions): Promise<BenchFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-pki-'));
  try {
    const started = Date.now();
    const sites = await startLocalSites({ dir, trustDomain: 'acme.internal', sites: options.sites, startTimeoutMs: options.startTimeoutMs ?? 60_000, ...(options.serverFiles === undefined ? {} : { serverFiles: options.serverFiles }) });
    return federation({ dir, ...sites, readySeconds: (Date.now() - started) / 1000 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function federation(parts: { dir: string; pki: PkiDirectory; setups: ReadonlyMap<string, SiteNatsSetup>; nats: SuperclusterHandle; readySeconds: number }): BenchFederation {
  const { dir, pki, setups, nats } = parts;
  const connections: NatsConnection[] = [];
  const identities = new Map<string, MtlsIdentity>();
  const identity = (site: string, node: string): MtlsIdentity => {
    const key = `${site}/${node}`;
    let found = identities.get(key);
    if (found === undefined) {
      found = pki.issueMtlsIdentity(site, 'agent', node);
      identities.set(key, found);
    }
    return found;
  };
  let stopped = false;
  return {
    nats,
    pki,
    setups,
    readySeconds: parts.readySeconds,
    identity,
    async connect(site, node, server = site) {
      const password = setups.get(site)?.password ?? missing(site);
      const nc = await connect(siteConnectOptions({ servers: nats.site(server).url, site, serverSite: server, password, identity: identity(site, node), name: `bench-${node}` }));
      connections.push(nc);
      return nc;
    },
    async connectControl(site) {
      const password = setups.get(site)?.controlPassword ?? missing(site);
      const nc = await connectAsControl({ pki, site, natsUrl: nats.site(site).url, identity: pki.issueMtlsIdentity(site, 'svc', 'control'), password });
      connections.push(nc);
      return nc;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.allSettled(connections.map((nc) => nc.close()));
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function missing(site: string): never {
  throw new Error(`no NATS setup for site ${site}`);
}
