import type { TrafficEdge } from './types.js';

/** The part of a finished outbound request the meter counts. */
export interface MeteredRequest {
  readonly direction: 'outbound' | 'inbound';
  readonly service: string;
  readonly peerService: string;
  readonly peerSite: string;
  readonly status: number;
  readonly protocol: 'http' | 'tcp';
}

/**
 * Pairs a meter tracks at most (about 2 MB); calls to further pairs are counted in their caller's
 * "other" pair. Destinations the catalog does not know are already one pair, so only a catalog of
 * thousands of services reaches it. The report carries the busiest of them (see bound.ts).
 */
export const MAX_TRACKED_TRAFFIC_PAIRS = 10_000;

/** The destination service and site of the pair that takes calls past {@link MAX_TRACKED_TRAFFIC_PAIRS}. */
export const OTHER_PAIR = 'other';

interface Counts {
  requests: number;
  errors: number;
  /** `requests` at the last snapshot, for the rate. */
  before: number;
}

/**
 * Counts a node's outbound calls per (caller, destination service, answering site): the edges of
 * the status API's service graph. Cheap enough for every request: one map lookup and two adds.
 * The map is bounded: past {@link MAX_TRACKED_TRAFFIC_PAIRS}, a new pair's calls go to the
 * caller's "other" pair (one per local service), so every call is still counted.
 */
export class TrafficMeter {
  readonly #edges = new Map<string, { edge: Omit<TrafficEdge, 'requests' | 'errors' | 'rps'>; counts: Counts }>();
  #snapshotAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.#snapshotAt = now();
  }

  record(request: MeteredRequest): void {
    if (request.direction !== 'outbound') return;
    const key = `${request.service}\n${request.peerService}\n${request.peerSite}`;
    const slot = this.#edges.get(key) ?? this.#add(request, key);
    slot.counts.requests++;
    // A TCP connection has no status: it counts as an error only when nothing answered it.
    const failed = request.protocol === 'http' ? request.status === 0 || request.status >= 500 : request.peerSite === '';
    if (failed) slot.counts.errors++;
  }

  #add(request: MeteredRequest, key: string): { counts: Counts } {
    const full = this.#edges.size >= MAX_TRACKED_TRAFFIC_PAIRS;
    const peerService = full ? OTHER_PAIR : request.peerService;
    const peerSite = full ? OTHER_PAIR : request.peerSite;
    const slotKey = full ? `${request.service}\n${OTHER_PAIR}\n${OTHER_PAIR}` : key;
    let slot = this.#edges.get(slotKey);
    if (slot === undefined) {
      slot = { edge: { service: request.service, peerService, peerSite }, counts: { requests: 0, errors: 0, before: 0 } };
      this.#edges.set(slotKey, slot);
    }
    return slot;
  }

  /** The edges with their totals and the rate since the previous snapshot. */
  snapshot(): TrafficEdge[] {
    const now = this.now();
    const seconds = Math.max(0.001, (now - this.#snapshotAt) / 1000);
    this.#snapshotAt = now;
    return [...this.#edges.values()].map(({ edge, counts }) => {
      const rps = (counts.requests - counts.before) / seconds;
      counts.before = counts.requests;
      return { ...edge, requests: counts.requests, errors: counts.errors, rps: Math.round(rps * 100) / 100 };
    });
  }
}
