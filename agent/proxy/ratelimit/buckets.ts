import type { BucketSpec, RateLimits } from '../../../shared/policy/index.js';

/** One token bucket's state: `tokens` as of `at` (performance.now() milliseconds). */
interface Bucket {
  tokens: number;
  at: number;
}

/** The key of the bucket a limit without `by: caller` fills: every caller shares it. */
export const SHARED = '';

/**
 * The agent's local token buckets, by limit key, then by caller ({@link SHARED} unless the limit
 * counts callers apart). A bucket starts full; refills continuously at the limit's rate.
 */
export class LocalBuckets {
  readonly #buckets = new Map<string, Map<string, Bucket>>();

  /**
   * Takes one token; 0 when taken, else the milliseconds until one is due (the refusal's
   * `retry-after`).
   */
  take(limitKey: string, who: string, spec: BucketSpec, now: number): number {
    let byCaller = this.#buckets.get(limitKey);
    if (byCaller === undefined) this.#buckets.set(limitKey, (byCaller = new Map<string, Bucket>()));
    let bucket = byCaller.get(who);
    if (bucket === undefined) byCaller.set(who, (bucket = { tokens: spec.capacity, at: now }));
    bucket.tokens = Math.min(spec.capacity, bucket.tokens + (now - bucket.at) * spec.ratePerMs);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / spec.ratePerMs);
  }

  /** Drops the buckets of limits no longer in force (changed limits get fresh ones). */
  retain(limits: RateLimits): void {
    for (const key of this.#buckets.keys()) if (!limits.keys.has(key)) this.#buckets.delete(key);
  }
}
