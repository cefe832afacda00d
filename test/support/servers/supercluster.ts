import { MeridianError } from '../../../shared/errors/index.js';
import { findBinary } from './binary.js';
import { startNatsServer } from './nats.js';
import { freePort, getJson, isAddressInUse, pollUntil } from './probe.js';
import { CuttableLink, relayError } from './tcp-cut.js';
import type { NatsServerHandle, SiteHandle, SuperclusterHandle, SuperclusterOptions } from './types.js';

const SITE_NAME = /^[A-Za-z0-9_-]+$/;
const PORT_ATTEMPTS = 5;

interface Site {
  name: string;
  relay: CuttableLink;
  server?: NatsServerHandle;
}

interface Gatewayz {
  outbound_gateways?: Record<string, { connection?: unknown }>;
  inbound_gateways?: Record<string, unknown[]>;
}

/**
 * Starts one single-server NATS cluster per site, JetStream on, linked into a supercluster
 * through gateways. Each site's gateway sits behind a harness-owned TCP relay (which is also
 * what the site advertises, so gossip can't route around it), which makes partition() a real
 * cut of live links. Resolves once every gateway link is up and a JetStream meta leader exists
 * (about 5-10 s on nats-server 2.9.10); on failure everything started is stopped.
 */
export async function startSupercluster(options: SuperclusterOptions): Promise<SuperclusterHandle> {
  checkSites(options.sites);
  const binary = options.binary ?? findBinary('nats-server');
  const cluster = new Supercluster(options, binary);
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

function checkSites(sites: readonly string[]): void {
  const bad = (why: string): MeridianError => new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startSupercluster: sites ${why}`);
  const list: unknown = sites;
  if (!Array.isArray(list) || list.length === 0) throw bad('must list at least one site');
  const invalid = sites.find((s) => typeof s !== 'string' || !SITE_NAME.test(s));
  if (invalid !== undefined) throw bad(`must match ${String(SITE_NAME)}, got ${JSON.stringify(invalid)}`);
  if (new Set(sites).size !== sites.length) throw bad(`must be unique, got ${sites.join(', ')}`);
}

class Supercluster implements SuperclusterHandle {
  readonly #options: SuperclusterOptions;
  readonly #binary: string;
  readonly #sites = new Map<string, Site>();
  readonly #isolated = new Set<string>();
  #handles: SiteHandle[] = [];

  constructor(options: SuperclusterOptions, binary: string) {
    this.#options = options;
    this.#binary = binary;
    const policy = (source: string | undefined, target: string): boolean => this.#allowed(source, target);
    for (const name of options.sites) this.#sites.set(name, { name, relay: new CuttableLink(name, policy) });
  }

  get sites(): readonly SiteHandle[] {
    return this.#handles;
  }

  async start(): Promise<void> {
    const started = Date.now();
    for (const site of this.#sites.values()) {
      await site.relay.listen().catch((err: unknown) => {
        throw relayError(site.name, err);
      });
    }
    const results = await Promise.allSettled([...this.#sites.values()].map((s) => this.#launchSite(s)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.#handles = [...this.#sites.values()].map((s) => siteHandle(s.name, this.#server(s)));
    const budget = (this.#options.startTimeoutMs ?? 45_000) - (Date.now() - started);
    await this.waitReady(Math.max(1, budget));
  }

  /** Ports are probed free then bound by the server, so a lost race is retried on new ports. */
  async #launchSite(site: Site): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const [clusterPort, gatewayPort] = [await freePort(), await freePort()];
      site.relay.upstreamPort = gatewayPort;
      try {
        site.server = await startNatsServer(this.#serverOptions(site, clusterPort, gatewayPort));
        return;
      } catch (err) {
        if (!isAddressInUse(err) || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  }

  #serverOptions(site: Site, clusterPort: number, gatewayPort: number): Parameters<typeof startNatsServer>[0] {
    const extra = this.#options.extraConfig;
    const others = [...this.#sites.values()].filter((s) => s !== site);
    return {
      name: site.name,
      binary: this.#binary,
      cluster: { name: site.name, port: clusterPort },
      gateway: {
        name: site.name,
        port: gatewayPort,
        advertise: `127.0.0.1:${site.relay.port}`,
        gateways: others.map((o) => ({ name: o.name, urls: [`nats://127.0.0.1:${o.relay.port}`] })),
      },
      ...(extra === undefined ? {} : { extraConfig: typeof extra === 'string' ? extra : extra(site.name) }),
      ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls(site.name) }),
    };
  }

  site(name: string): SiteHandle {
    const handle = this.#handles.find((h) => h.site === name);
    if (!handle) throw unknownSite(name, this.#options.sites);
    return handle;
  }

  async partition(name: string): Promise<void> {
    this.site(name);
    this.#isolated.add(name);
    for (const site of this.#sites.values()) site.relay.cut((source, target) => !this.#allowed(source, target));
    // Inbound links are keyed by the dialler's name only after its CONNECT, which the relay now
    // refuses, so they don't flicker while servers keep redialling; both ends must agree.
    await pollUntil(async () => ((await this.#linkedInbound(name)) ? undefined : true), {
      what: `gateway links of site ${name} to go down`,
      timeoutMs: this.#options.healTimeoutMs ?? 30_000,
    });
  }

  async heal(name: string): Promise<void> {
    this.site(name);
    this.#isolated.delete(name);
    await this.waitReady(this.#options.healTimeoutMs ?? 30_000);
  }

  async stopSite(name: string): Promise<void> {
    await this.#server(this.#siteOf(name)).terminate();
  }

  async restartSite(name: string): Promise<void> {
    await this.#server(this.#siteOf(name)).restart();
    await this.waitReady(this.#options.healTimeoutMs ?? 30_000);
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const active = [...this.#sites.values()].filter((s) => s.server?.running === true && !this.#isolated.has(s.name));
    await pollUntil(async () => ((await this.#meshReady(active)) ? true : undefined), {
      what: `gateway links among ${active.map((s) => s.name).join(', ')} and a JetStream meta leader`,
      timeoutMs,
      intervalMs: 100,
    });
  }

  async stop(): Promise<void> {
    const sites = [...this.#sites.values()];
    await Promise.allSettled(sites.map((s) => s.server?.stop() ?? Promise.resolve()));
    await Promise.allSettled(sites.map((s) => s.relay.close()));
  }

  #allowed(source: string | undefined, target: string): boolean {
    return !this.#isolated.has(target) && (source === undefined || !this.#isolated.has(source));
  }

  /** True while any running site still holds an inbound link from or to `name`. */
  async #linkedInbound(name: string): Promise<boolean> {
    for (const site of this.#sites.values()) {
      if (site.server?.running !== true) continue;
      const gz = (await getJson(`${site.server.monitorUrl}/gatewayz`)) as Gatewayz;
      const inbound = gz.inbound_gateways ?? {};
      const peers = site.name === name ? Object.keys(inbound) : [name];
      if (peers.some((p) => (inbound[p]?.length ?? 0) > 0)) return true;
    }
    return false;
  }

  async #meshReady(active: readonly Site[]): Promise<boolean> {
    for (const site of active) {
      const monitor = this.#server(site).monitorUrl;
      const gz = (await getJson(`${monitor}/gatewayz`)) as Gatewayz;
      for (const peer of active) {
        if (peer === site) continue;
        if (gz.outbound_gateways?.[peer.name]?.connection === undefined) return false;
        if ((gz.inbound_gateways?.[peer.name]?.length ?? 0) === 0) return false;
      }
      const jsz = (await getJson(`${monitor}/jsz`)) as { meta_cluster?: { leader?: string } };
      if (!jsz.meta_cluster?.leader) return false;
    }
    return true;
  }

  #siteOf(name: string): Site {
    const site = this.#sites.get(name);
    if (!site) throw unknownSite(name, this.#options.sites);
    return site;
  }

  #server(site: Site): NatsServerHandle {
    if (!site.server) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `site ${site.name} has no server (start failed)`);
    return site.server;
  }
}

function siteHandle(site: string, server: NatsServerHandle): SiteHandle {
  return {
    site,
    cluster: site,
    server,
    get url() {
      return server.url;
    },
    get monitorUrl() {
      return server.monitorUrl;
    },
  };
}

function unknownSite(name: string, sites: readonly string[]): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `unknown site ${JSON.stringify(name)}; sites are ${sites.join(', ')}`);
}
