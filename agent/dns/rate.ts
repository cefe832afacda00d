/**
 * A token bucket over all clients: at most `perSecond` queries a second, with bursts of up to one
 * second's worth. On a loopback listener every client shares an address, so a per-source limit
 * would bound nothing; this bounds the work a flood can cost the agent.
 */
export class QueryRate {
  readonly #perSecond: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#now = now;
    this.#tokens = perSecond;
    this.#at = now();
  }

  /** Takes one query's token; false when the bucket is empty (the query is dropped). */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#at) * this.#perSecond) / 1000);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
