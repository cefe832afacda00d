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

interface Counts {
  requests: number;
  errors: number;
  /** `requests` at the last snapshot, for the rate. */
  before: number;
}

/**
 * Counts a node's outbound calls per (caller, destination service, answering site): the edges of
 * the status API's service graph. Cheap enough for every request: one map lookup and two adds.
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
    let slot = this.#edges.get(key);
    if (slot === undefined) {
      slot = { edge: { service: request.service, peerService: request.peerService, peerSite: request.peerSite }, counts: { requests: 0, errors: 0, before: 0 } };
      this.#edges.set(key, slot);
    }
    slot.counts.requests++;
    // A TCP connection has no status: it counts as an error only when nothing answered it.
    const failed = request.protocol === 'http' ? request.status === 0 || request.status >= 500 : request.peerSite === '';
    if (failed) slot.counts.errors++;
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
