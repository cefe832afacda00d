/** Limits of {@link FailureLimiter}. */
export interface FailureLimits {
  /** Failed joins one remote address may make per window (default 5). */
  readonly perAddress: number;
  /** Failed joins of all addresses together per window (default 100): a spread-out guessing attack. */
  readonly global: number;
  /** The window (default 60 s). */
  readonly windowMs: number;
  /** Addresses tracked at most; past it the oldest window is forgotten first (bounded memory). */
  readonly maxAddresses: number;
}

export const DEFAULT_FAILURE_LIMITS: FailureLimits = Object.freeze({ perAddress: 5, global: 100, windowMs: 60_000, maxAddresses: 10_000 });

interface Window {
  count: number;
  readonly startedAt: number;
}

/**
 * Counts failed joins in fixed windows, per remote address and in total. An address (or the
 * whole endpoint) over its budget is refused until its window ends; successes cost nothing.
 */
export class FailureLimiter {
  readonly #limits: FailureLimits;
  readonly #byAddress = new Map<string, Window>();
  #global: Window = { count: 0, startedAt: 0 };

  constructor(limits: Partial<FailureLimits> = {}) {
    this.#limits = { ...DEFAULT_FAILURE_LIMITS, ...limits };
  }

  /** Seconds until `address` may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const ends: number[] = [];
    const own = this.#current(this.#byAddress.get(address), now);
    if (own !== undefined && own.count >= this.#limits.perAddress) ends.push(own.startedAt + this.#limits.windowMs);
    const global = this.#current(this.#global, now);
    if (global !== undefined && global.count >= this.#limits.global) ends.push(global.startedAt + this.#limits.windowMs);
    return ends.length === 0 ? 0 : Math.max(1, Math.ceil((Math.max(...ends) - now) / 1000));
  }

  /** Records one failed join of `address`. */
  fail(address: string, now = Date.now()): void {
    const own = this.#current(this.#byAddress.get(address), now);
    if (own === undefined) {
      this.#byAddress.delete(address);
      if (this.#byAddress.size >= this.#limits.maxAddresses) this.#evict(now);
      this.#byAddress.set(address, { count: 1, startedAt: now });
    } else {
      own.count += 1;
    }
    const global = this.#current(this.#global, now);
    if (global === undefined) this.#global = { count: 1, startedAt: now };
    else global.count += 1;
  }

  /** How many addresses are tracked (memory stays bounded by maxAddresses). */
  get trackedAddresses(): number {
    return this.#byAddress.size;
  }

  #current(window: Window | undefined, now: number): Window | undefined {
    return window !== undefined && now - window.startedAt < this.#limits.windowMs ? window : undefined;
  }

  /** Drops ended windows; when every window is live, the oldest (insertion order) goes. */
  #evict(now: number): void {
    for (const [address, window] of this.#byAddress) {
      if (this.#current(window, now) === undefined) this.#byAddress.delete(address);
    }
    const oldest = this.#byAddress.keys().next();
    if (this.#byAddress.size >= this.#limits.maxAddresses && oldest.done !== true) this.#byAddress.delete(oldest.value);
  }
}
