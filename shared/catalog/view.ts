import type { KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { MeridianError } from '../errors/index.js';
import { openSiteBucket } from './bucket.js';
import { siteOfStream } from './layout.js';
import { SiteState } from './site-state.js';
import { SiteWatch } from './site-watch.js';
import type { CatalogEntry, CatalogQuery, CatalogReader, ServiceInstance, SiteView } from './types.js';

const READER_LEASE_FACTOR = 2;

/** Options of a federated view; defaults suit a 2 s heartbeat. */
export interface FederatedViewOptions {
  /** Silence from a site for longer than this marks its entries stale (default 6000 ms: 3 heartbeats). */
  readonly staleAfterMs?: number;
  /** How often to look for sites that joined the federation (default 5000 ms). */
  readonly discoveryIntervalMs?: number;
  /** Sites to follow from the start, before discovery lists them. */
  readonly sites?: readonly string[];
  readonly now?: () => number;
  readonly onError?: (site: string, error: Error) => void;
}

/**
 * The local, read-optimised view of the whole federation: every site's bucket is followed into
 * memory, so a lookup never crosses the WAN. Losing a site never deletes its entries: they turn
 * stale, their age is visible, and each service's partition policy decides whether they stay usable.
 */
export class FederatedView implements CatalogReader {
  readonly #states = new Map<string, SiteState>();
  readonly #watches = new Map<string, SiteWatch>();
  readonly #pending = new Map<string, SiteState>();
  readonly #waiters = new Set<() => void>();
  readonly #options: FederatedViewOptions;
  readonly #staleAfterMs: number;
  readonly #now: () => number;
  #revision = 0;
  #discovery: NodeJS.Timeout | undefined;
  #nc: NatsConnection | undefined;
  #discovered = false;
  #warmLatched = false;

  constructor(options: FederatedViewOptions) {
    this.#options = options;
    this.#staleAfterMs = options.staleAfterMs ?? 6000;
    this.#now = options.now ?? Date.now;
  }

  get revision(): number {
    return this.#revision;
  }

  /**
   * Starts following the configured sites and every `catalog-*` bucket discovery finds. Until
   * then the view serves what it was seeded with (a snapshot), ageing as time passes.
   */
  connect(nc: NatsConnection): void {
    this.#nc = nc;
    for (const site of this.#options.sites ?? []) this.follow(site);
    void this.discover();
    this.#discovery = setInterval(() => void this.discover(), this.#options.discoveryIntervalMs ?? 5000).unref();
  }

  /** Lists catalog buckets across the supercluster and follows new ones; failures keep what is followed. */
  async discover(): Promise<void> {
    if (this.#nc === undefined) return;
    try {
      const jsm = await jetstreamManager(this.#nc, { timeout: 3000 });
      for await (const name of jsm.streams.names()) {
        const site = siteOfStream(name);
        if (site !== undefined) this.follow(site);
      }
      this.#discovered = true;
    } catch (error) {
      this.#options.onError?.('*', error as Error);
    }
  }

  follow(site: string): void {
    if (this.#watches.has(site) || this.#nc === undefined) return;
    if (!this.#states.has(site)) this.#states.set(site, new SiteState(site));
    const watch = new SiteWatch(this.#nc, site, {
      entry: (entry, initial) => this.#apply(site, entry, initial),
      warm: () => this.#warm(site),
      resumeFrom: () => (this.#stateOf(site).warm ? this.#stateOf(site).lastRevision : 0),
      error: (error) => this.#options.onError?.(site, error),
    }, openSiteBucket, this.#staleAfterMs);
    this.#watches.set(site, watch);
    watch.start();
  }

  /** Seeds a site from a snapshot; the live replay replaces it once the site answers. */
  seed(state: SiteState): void {
    const existing = this.#stateOf(state.site);
    if (existing.warm) return;
    existing.replaceWith(state);
    this.#bump();
  }

  /**
   * True once the first discovery listed the federation's sites and every one of them completed
   * its initial replay. It then stays true: a site that joins later does not make a serving agent
   * unready while its replay runs.
   */
  isWarm(): boolean {
    if (this.#warmLatched) return true;
    this.#warmLatched =
      this.#discovered && this.#watches.size > 0 && [...this.#watches.keys()].every((site) => this.#states.get(site)?.warm === true);
    return this.#warmLatched;
  }

  /** Resolves once every followed site has completed its initial replay, or rejects after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = this.#now() + timeoutMs;
    while (!this.isWarm()) {
      if (this.#now() > deadline) {
        const cold = [...this.#states.values()].filter((s) => !s.warm).map((s) => s.site);
        throw new MeridianError('MERIDIAN_ERR_TIMEOUT', `catalog view not warm after ${timeoutMs} ms (waiting for ${cold.join(', ') || 'the first discovery'})`);
      }
      await this.waitForChange(this.#revision, 100);
    }
  }

  close(): void {
    clearInterval(this.#discovery);
    for (const watch of this.#watches.values()) watch.close();
    this.#watches.clear();
    this.#bump();
  }

  #stateOf(site: string): SiteState {
    let state = this.#states.get(site);
    if (state === undefined) {
      state = new SiteState(site);
      this.#states.set(site, state);
    }
    return state;
  }

  /** An initial replay fills a fresh state that replaces the old one at once when it is complete. */
  #apply(site: string, entry: KvEntry, initial: boolean): void {
    const now = this.#now();
    if (initial) {
      let pending = this.#pending.get(site);
      if (pending === undefined) this.#pending.set(site, (pending = new SiteState(site)));
      pending.apply(entry, now);
      return;
    }
    if (this.#stateOf(site).apply(entry, now)) this.#bump();
  }

  #warm(site: string): void {
    const state = this.#stateOf(site);
    const pending = this.#pending.get(site) ?? new SiteState(site);
    this.#pending.delete(site);
    pending.lastHeardAt = this.#now();
    state.replaceWith(pending);
    state.warm = true;
    this.#bump();
  }

  #bump(): void {
    this.#revision++;
    for (const wake of [...this.#waiters]) wake();
  }

  waitForChange(sinceRevision: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    if (this.#revision > sinceRevision || signal?.aborted === true) return Promise.resolve(this.#revision);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve(this.#revision);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
      signal?.addEventListener('abort', done);
    });
  }

  query(query: CatalogQuery = {}): CatalogEntry[] {
    const now = this.#now();
    const entries: CatalogEntry[] = [];
    for (const state of this.#states.values()) {
      if (query.site !== undefined && state.site !== query.site) continue;
      const ageMs = state.lastHeardAt === undefined ? Infinity : Math.max(0, now - state.lastHeardAt);
      const stale = ageMs > this.#staleAfterMs;
      for (const { instance } of state.instances.values()) {
        if (!matches(instance, query)) continue;
        // Readers wait two lease lifetimes: the site's reapers delete a dead node's instances after
        // one, and that delete is what normally removes them; this only covers sites with no reaper,
        // without hiding a live node whose renewal was merely delayed.
        if (state.nodeExpired(instance.node, now, stale, READER_LEASE_FACTOR)) continue;
        entries.push({ instance, stale, ageMs: Number.isFinite(ageMs) ? ageMs : -1, usable: usable(instance, stale, ageMs) });
      }
    }
    return entries;
  }

  sites(): SiteView[] {
    const now = this.#now();
    return [...this.#states.values()].map((state) => {
      const ageMs = state.lastHeardAt === undefined ? undefined : Math.max(0, now - state.lastHeardAt);
      return { site: state.site, instances: state.instances.size, ageMs, stale: ageMs === undefined || ageMs > this.#staleAfterMs, syncLagMs: state.syncLagMs };
    });
  }

  /** The raw per-site states, for snapshots and the lease reaper. */
  states(): ReadonlyMap<string, SiteState> {
    return this.#states;
  }

  get staleAfterMs(): number {
    return this.#staleAfterMs;
  }
}

function matches(instance: ServiceInstance, query: CatalogQuery): boolean {
  if (query.service !== undefined && instance.service !== query.service) return false;
  if (query.region !== undefined && instance.region !== query.region) return false;
  if (query.health !== undefined && instance.health !== query.health) return false;
  for (const [label, value] of Object.entries(query.labels ?? {})) if (instance.labels[label] !== value) return false;
  return true;
}

/** Routable: passing, and either fresh or stale within the service's keep-last-known budget. */
function usable(instance: ServiceInstance, stale: boolean, ageMs: number): boolean {
  if (instance.health !== 'passing') return false;
  if (!stale) return true;
  return instance.partition.mode === 'keep-last-known' && ageMs <= instance.partition.maxStalenessMs;
}
