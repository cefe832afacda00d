import type { X509Certificate } from 'node:crypto';

/** When to renew: at `fraction` of the lifetime plus up to `jitter` of it, so a fleet issued together does not renew together. */
export interface RenewalPolicy {
  /** Default 0.5: renew at half-life, as Istio and Linkerd do. */
  readonly fraction?: number;
  /** Default 0.1: spread renewals over the next 10% of the lifetime. */
  readonly jitter?: number;
  readonly random?: () => number;
}

/** The moment a certificate is due for renewal under `policy`. */
export function renewalDueAt(certificate: X509Certificate, policy: RenewalPolicy = {}): Date {
  const notBefore = new Date(certificate.validFrom).getTime();
  const lifetime = new Date(certificate.validTo).getTime() - notBefore;
  const fraction = policy.fraction ?? 0.5;
  const jitter = policy.jitter ?? 0.1;
  const offset = lifetime * (fraction + jitter * (policy.random ?? Math.random)());
  return new Date(notBefore + Math.min(offset, lifetime));
}

/** Options of {@link RenewalTimer}. */
export interface RenewalTimerOptions {
  /** Obtains and adopts a new certificate; the caller then hands its leaf to `schedule`. */
  readonly renew: () => Promise<void>;
  /** A renewal failed; the next try is in `retryMs`. */
  readonly onFailed?: (error: Error, retryMs: number) => void;
  readonly policy?: RenewalPolicy;
  readonly now?: () => number;
  /** First retry delay after a failure (default 1 s), doubled up to `retryMaxMs` (default 60 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

/** Never renew sooner than this after adopting a certificate: a clock or lifetime oddity must not become a signing storm. */
export const MIN_RENEWAL_DELAY_MS = 500;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One certificate's renewal clock, shared by workload and role identities: due at half-life plus
 * jitter (see {@link renewalDueAt}), never sooner than {@link MIN_RENEWAL_DELAY_MS}, retried with
 * doubling backoff while it fails (at most a quarter of the lifetime apart, so a short-lived
 * certificate gets several tries before it expires). Timers are unref'd: a pending renewal never keeps a process up.
 */
export class RenewalTimer {
  readonly #options: RenewalTimerOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Lifetime of the certificate being renewed: a retry never waits longer than a quarter of it. */
  #lifetimeMs = Number.POSITIVE_INFINITY;

  constructor(options: RenewalTimerOptions) {
    this.#options = options;
  }

  /** (Re)starts the clock for a freshly adopted certificate. */
  schedule(leaf: X509Certificate): void {
    this.#lifetimeMs = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    const delay = renewalDueAt(leaf, this.#options.policy).getTime() - this.#now();
    this.#arm(Math.max(MIN_RENEWAL_DELAY_MS, delay), this.#options.retryMinMs ?? RETRY_MIN_MS);
  }

  /** Renews as soon as possible (e.g. a certificate found expired at start). */
  now(): void {
    this.#arm(0, this.#options.retryMinMs ?? RETRY_MIN_MS);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number, retryMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#fire(retryMs), Math.max(0, Math.min(delayMs, MAX_TIMER_MS)));
    this.#timer.unref();
  }

  async #fire(retryMs: number): Promise<void> {
    try {
      await this.#options.renew();
    } catch (error) {
      if (this.#stopped) return;
      this.#options.onFailed?.(error as Error, retryMs);
      const ceiling = Math.min(this.#options.retryMaxMs ?? RETRY_MAX_MS, Math.max(MIN_RENEWAL_DELAY_MS, this.#lifetimeMs / 4));
      this.#arm(retryMs, Math.min(retryMs * 2, ceiling));
    }
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }
}
