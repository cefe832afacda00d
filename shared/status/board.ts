import type { KvEntry } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { SiteWatch } from '../catalog/index.js';
import { openStatusBucket, siteOfStatusStream } from './bucket.js';
import type { StatusRecord } from './types.js';

/** A record as the board holds it. */
export interface BoardEntry {
  readonly key: string;
  readonly record: StatusRecord;
  /** Local time it arrived. */
  readonly receivedAt: number;
  /** False for a record replayed when the watch (re)started: its arrival time says nothing of its age. */
  readonly live: boolean;
}

/** Milliseconds since the reporter wrote `entry`: by our clock when it arrived live, else by its own `at`. */
export function reportAgeMs(entry: BoardEntry, now: number): number {
  if (entry.live) return Math.max(0, now - entry.receivedAt);
  const at = Date.parse(entry.record.at);
  return Number.isFinite(at) ? Math.max(0, now - at) : Number.POSITIVE_INFINITY;
}

/** A reporter is up while its last record is younger than three of its intervals. */
export function reporterUp(entry: BoardEntry, now: number): boolean {
  return reportAgeMs(entry, now) <= 3 * entry.record.intervalMs;
}

/** Options of a {@link StatusBoard}. */
export interface StatusBoardOptions {
  /** How often the board looks for new sites' buckets. Default 5 s. */
  readonly discoveryIntervalMs?: number;
  readonly onError?: (site: string, error: Error) => void;
  readonly now?: () => number;
}

/**
 * Every site's status records, followed live: one resumable watch per `status-<site>` bucket,
 * new sites found by listing streams. A site cut off keeps its last records (their `at` ages),
 * exactly as the catalog keeps its entries.
 */
export class StatusBoard {
  readonly #entries = new Map<string, Map<string, BoardEntry>>();
  readonly #watches = new Map<string, SiteWatch>();
  readonly #revisions = new Map<string, number>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: StatusBoardOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Follows the given sites at once and every site discovery finds. */
  start(sites: readonly string[]): void {
    for (const site of sites) this.follow(site);
    void this.discover();
    this.#timer = setInterval(() => void this.discover(), this.options.discoveryIntervalMs ?? 5_000);
    this.#timer.unref();
  }

  async discover(): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.nc, { timeout: 3_000 });
      for await (const name of jsm.streams.names()) {
        const site = siteOfStatusStream(name);
        if (site !== undefined) this.follow(site);
      }
    } catch (error) {
      this.options.onError?.('*', error as Error);
    }
  }

  follow(site: string): void {
    if (this.#watches.has(site)) return;
    const watch = new SiteWatch(
      this.nc,
      site,
      {
        entry: (entry, initial) => this.#apply(site, entry, !initial),
        warm: () => undefined,
        resumeFrom: () => this.#revisions.get(site) ?? 0,
        error: (error) => this.options.onError?.(site, error),
      },
      openStatusBucket,
    );
    this.#watches.set(site, watch);
    watch.start();
  }

  /** Sites whose bucket is followed. */
  sites(): string[] {
    return [...this.#watches.keys()].sort();
  }

  /** Every record held, sorted by site, kind and name. */
  entries(): BoardEntry[] {
    const all = [...this.#entries.values()].flatMap((bySite) => [...bySite.values()]);
    return all.sort((a, b) => a.record.site.localeCompare(b.record.site) || a.key.localeCompare(b.key));
  }

  close(): void {
    clearInterval(this.#timer);
    for (const watch of this.#watches.values()) watch.close();
    this.#watches.clear();
  }

  #apply(site: string, entry: KvEntry, live: boolean): void {
    this.#revisions.set(site, Math.max(this.#revisions.get(site) ?? 0, entry.revision));
    let bySite = this.#entries.get(site);
    if (bySite === undefined) this.#entries.set(site, (bySite = new Map<string, BoardEntry>()));
    if (entry.operation !== 'PUT') {
      bySite.delete(entry.key);
      return;
    }
    const record = decodeRecord(entry, site);
    if (record !== undefined) bySite.set(entry.key, { key: entry.key, record, receivedAt: this.#now(), live });
  }
}

/** A record is believed only for the site whose bucket holds it: a site reports for itself. */
function decodeRecord(entry: KvEntry, site: string): StatusRecord | undefined {
  try {
    const record = entry.json<StatusRecord>();
    const known = record.kind === 'agent' || record.kind === 'gateway' || record.kind === 'control';
    return known && record.site === site && typeof record.name === 'string' && typeof record.at === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}
