import { instanceKey, type CatalogEntry, type ServiceInstance } from '../../../shared/catalog/index.js';
import { ProxyError } from '../http/errors.js';
import { InstanceHealth, resolveOutlier, type OutlierOptions } from './outlier.js';
import type { FailoverStatus } from '../../../shared/status/index.js';

/** Where this node runs: the balancer prefers its site, then its region. */
export interface Locality {
  readonly site: string;
  readonly region: string;
}

/** Why calls to a service left the local site: the status report's record, as the balancer keeps it. */
export type FailoverRecord = FailoverStatus;

/** Options of the instance chooser. */
export interface BalancerOptions {
  readonly locality: Locality;
  /** The catalog entries of a service (the agent passes `view.query({ service })`). */
  readonly candidates: (service: string) => readonly CatalogEntry[];
  readonly outlier?: Partial<OutlierOptions>;
  /** Injected for tests; defaults to Date.now and Math.random. */
  readonly now?: () => number;
  readonly random?: () => number;
}

/** One locality tier: the local site, other sites of the region, then everything else. */
interface Tier {
  readonly label: string;
  readonly entries: readonly CatalogEntry[];
  /** Instances of the tier their site does not export (not routable from here). */
  readonly unexported?: number;
}

/** The instances a request may go to, and why any earlier tier was skipped. */
interface Selection {
  readonly entries: readonly CatalogEntry[];
  readonly skipped: readonly string[];
  /** Instances of the skipped tiers: none means the service simply runs elsewhere, some means they all failed. */
  readonly bypassed: number;
}


/** Can carry mesh traffic at all: usable per the catalog, reachable through a mesh port, not weighted out. */
function routable(entry: CatalogEntry): boolean {
  return entry.usable && entry.instance.meshPort !== undefined && entry.instance.weight > 0;
}

function unroutableReason(entry: CatalogEntry): string {
  const { instance } = entry;
  if (!entry.usable) return instance.health !== 'passing' ? instance.health : entry.stale ? 'stale' : 'unusable';
  return instance.meshPort === undefined ? 'no mesh port' : 'weight 0';
}

/** "2 critical, 1 stale": why a tier had nothing routable. */
function summarize(entries: readonly CatalogEntry[]): string {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const reason = unroutableReason(entry);
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].map(([reason, count]) => `${count} ${reason}`).join(', ');
}

/** Random pick with probability proportional to weight. */
function weightedPick(entries: readonly CatalogEntry[], random: () => number): CatalogEntry {
  const total = entries.reduce((sum, e) => sum + e.instance.weight, 0);
  let point = random() * total;
  for (const entry of entries) {
    point -= entry.instance.weight;
    if (point < 0) return entry;
  }
  return entries[entries.length - 1] as CatalogEntry;
}

/**
 * Client-side instance choice for the outbound proxy: locality tiers with failover (local site,
 * then the region, then anywhere; remote instances only when exported), power-of-two-choices
 * least-request within a tier (weights respected), and passive outlier ejection. It remembers
 * why each service left the local site, for the status API.
 */
export class Balancer {
  private readonly health: InstanceHealth;
  private readonly locality: Locality;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly failing = new Map<string, FailoverRecord>();

  constructor(private readonly options: BalancerOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.locality = options.locality;
    this.health = new InstanceHealth(resolveOutlier(options.outlier), this.now);
  }

  /**
   * Picks an instance of `service`, skipping `exclude` ({@link instanceKey}s this request
   * already failed to connect to). Throws a ProxyError naming the service when nothing can take the request.
   */
  pick(service: string, exclude: ReadonlySet<string> = new Set()): ServiceInstance {
    const entries = this.options.candidates(service);
    if (entries.length === 0) throw new ProxyError('MERIDIAN_ERR_SERVICE_UNKNOWN', `no instance of service "${service}" in the catalog`);
    const tiers = this.tiers(entries);
    const selection = this.select(tiers, exclude);
    if (selection === undefined) {
      const why = tiers.map((tier) => this.describe(tier, exclude)).join('; ');
      throw new ProxyError('MERIDIAN_ERR_NO_HEALTHY_UPSTREAM', `no usable instance of service "${service}": ${why}`);
    }
    const chosen = this.leastRequest(selection.entries).instance;
    this.noteFailover(service, chosen, selection);
    return chosen;
  }

  /** A request (or TCP connection) to `instance` starts / ends: the least-request load. */
  begin(instance: ServiceInstance): void {
    this.health.begin(instanceKey(instance));
  }

  end(instance: ServiceInstance): void {
    this.health.end(instanceKey(instance));
  }

  /** Dial or nested TLS failed: counts toward ejection. */
  connectFailed(instance: ServiceInstance): void {
    this.health.connectFailed(instanceKey(instance));
  }

  /** The instance's agent answered that its app refused the connection: ejected at once. */
  appUnreachable(instance: ServiceInstance): void {
    this.health.unusable(instanceKey(instance));
  }

  connected(instance: ServiceInstance): void {
    this.health.connected(instanceKey(instance));
  }

  /** An upstream status (a reset before any answer counts as 502). */
  responded(instance: ServiceInstance, status: number): void {
    this.health.responded(instanceKey(instance), status);
  }

  isEjected(instance: ServiceInstance): boolean {
    return this.health.isEjected(instanceKey(instance));
  }

  /** Services now served from another site, why, and since when. */
  failovers(): FailoverRecord[] {
    return [...this.failing.values()].sort((a, b) => a.service.localeCompare(b.service));
  }

  private tiers(entries: readonly CatalogEntry[]): Tier[] {
    const { site, region } = this.locality;
    // Another site's instance is reachable only through the gateways, and only if exported.
    const others = entries.filter((e) => e.instance.site !== site);
    const remote = others.filter((e) => e.instance.exported === true);
    const unexported = (inRegion: boolean): number => others.filter((e) => e.instance.exported !== true && (e.instance.region === region) === inRegion).length;
    return [
      { label: `site ${site}`, entries: entries.filter((e) => e.instance.site === site) },
      { label: `region ${region}`, entries: remote.filter((e) => e.instance.region === region), unexported: unexported(true) },
      { label: 'other regions', entries: remote.filter((e) => e.instance.region !== region), unexported: unexported(false) },
    ];
  }

  private select(tiers: readonly Tier[], exclude: ReadonlySet<string>): Selection | undefined {
    const skipped: string[] = [];
    let bypassed = 0;
    for (const tier of tiers) {
      const live = tier.entries.filter((e) => routable(e) && !exclude.has(instanceKey(e.instance)) && !this.health.isEjected(instanceKey(e.instance)));
      if (live.length > 0) return { entries: live, skipped, bypassed };
      skipped.push(this.describe(tier, exclude));
      bypassed += tier.entries.length;
    }
    // Panic mode: every routable instance is ejected. Trying one beats failing every request
    // until an ejection ends (Envoy's panic threshold, at 0%).
    const ejected = tiers.map((tier) => tier.entries.filter((e) => routable(e) && !exclude.has(instanceKey(e.instance))));
    const index = ejected.findIndex((entries) => entries.length > 0);
    const entries = ejected[index];
    const bypassedBefore = tiers.slice(0, index).reduce((sum, tier) => sum + tier.entries.length, 0);
    return entries === undefined ? undefined : { entries, skipped: skipped.slice(0, index), bypassed: bypassedBefore };
  }

  private describe(tier: Tier, exclude: ReadonlySet<string>): string {
    if (tier.entries.length === 0 && (tier.unexported ?? 0) > 0) return `no instance in ${tier.label} (${tier.unexported} not exported by its site)`;
    if (tier.entries.length === 0) return `no instance in ${tier.label}`;
    const ok = tier.entries.filter(routable);
    if (ok.length === 0) return `no usable instance in ${tier.label} (${summarize(tier.entries)})`;
    const failed = ok.filter((e) => exclude.has(instanceKey(e.instance))).length;
    return `all ${ok.length} usable instance(s) in ${tier.label} failing (${ok.length - failed} ejected by outlier detection, ${failed} refused this request)`;
  }

  /** Power of two choices on in-flight requests per unit of weight; ties go to the weighted draw. */
  private leastRequest(entries: readonly CatalogEntry[]): CatalogEntry {
    const first = weightedPick(entries, this.random);
    if (entries.length === 1) return first;
    const second = weightedPick(
      entries.filter((e) => e !== first),
      this.random,
    );
    const load = (e: CatalogEntry): number => this.health.inflight(instanceKey(e.instance)) / e.instance.weight;
    return load(second) < load(first) ? second : first;
  }

  private noteFailover(service: string, chosen: ServiceInstance, selection: Selection): void {
    if (chosen.site === this.locality.site) {
      this.failing.delete(service);
      return;
    }
    const since = this.failing.get(service)?.since ?? new Date(this.now()).toISOString();
    this.failing.set(service, { service, fromSite: this.locality.site, toSite: chosen.site, reason: selection.skipped.join('; '), since, degraded: selection.bypassed > 0 });
  }
}
