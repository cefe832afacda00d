import { StateTracker } from './tracker.js';
import type { ChangeListener, CheckResult, CheckState, HealthCheckHandle } from './types.js';

/** What a {@link TtlCheck} needs. */
export interface TtlCheckOptions {
  readonly ttlMs: number;
  readonly onChange: ChangeListener;
  readonly now: () => number;
}

/**
 * A check the instance keeps alive itself: passing while passTtl() was called within the last
 * `ttl`, critical once a whole `ttl` goes by without one. The first window starts at start(),
 * so an instance that never reports turns critical after one `ttl`. There are no thresholds:
 * each pass and each expiry decides on its own, since both are already deliberate signals.
 * A single unref'd timer sits at the end of the current window; nothing polls.
 */
export class TtlCheck implements HealthCheckHandle {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #tracker: StateTracker;
  #windowEnd: number;
  #expired = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TtlCheckOptions) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now;
    this.#tracker = new StateTracker({ healthyThreshold: 1, unhealthyThreshold: 1 }, options.onChange);
    this.#windowEnd = this.#now() + this.#ttlMs;
    this.#arm(this.#ttlMs);
  }

  get state(): CheckState {
    return this.#tracker.state;
  }

  get lastResult(): CheckResult | undefined {
    return this.#tracker.lastResult;
  }

  passTtl(): void {
    if (this.#stopped) return;
    const at = this.#now();
    this.#windowEnd = at + this.#ttlMs;
    this.#expired = false;
    this.#tracker.record({ ok: true, reason: 'TTL pass received', at, durationMs: 0 });
    this.#arm(this.#ttlMs);
  }

  failTtl(reason: string): void {
    if (this.#stopped) return;
    // The window is spent: only a pass makes the check passing again.
    this.#windowEnd = this.#now();
    this.#expired = true;
    this.#tracker.record({ ok: false, reason, at: this.#windowEnd, durationMs: 0 });
    clearTimeout(this.#timer);
  }

  /** Re-evaluates the window against the clock (useful with an injected `now`). */
  runNow(): Promise<void> {
    if (!this.#stopped) this.#evaluate();
    return Promise.resolve();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#evaluate(), delayMs).unref();
  }

  #evaluate(): void {
    const at = this.#now();
    const remaining = this.#windowEnd - at;
    if (remaining > 0) {
      // The timer and the injected clock may disagree; trust the clock and wait out the rest.
      this.#arm(remaining);
      return;
    }
    // One failure per missed window: the state is already critical, repeating it adds nothing.
    if (this.#expired) return;
    this.#expired = true;
    this.#tracker.record({ ok: false, reason: `TTL of ${this.#ttlMs} ms expired without a pass`, at, durationMs: 0 });
  }
}
