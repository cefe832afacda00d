import { MeridianError } from '../../../shared/errors/index.js';
import type { SpiffeId } from '../../../shared/identity/index.js';
import type { CompiledRateLimit, GlobalBucketSpec, LivePolicy } from '../../../shared/policy/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { LocalBuckets, SHARED } from './buckets.js';
import type { RedisBuckets } from './redis.js';

/** A request refused by a rate limit: the limit's name, seconds to wait, and why. */
export interface RateLimitRefusal {
  readonly limit: string;
  readonly retryAfterS: number;
  readonly message: string;
}

/** How global limits reach Redis: one script call per decision, or batches of tokens spent locally. */
export type GlobalMode = { readonly kind: 'script' } | { readonly kind: 'batch'; readonly size: number };

/** Tokens an agent took from Redis in one batch, spent locally until gone or stale. */
interface Held {
  tokens: number;
  /** Unspent tokens are dropped after one period, so an idle agent does not keep the others short. */
  expiresAt: number;
  /** Redis had none left: refuse locally until then rather than ask again. */
  emptyUntil: number;
  fetching: Promise<void> | undefined;
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  readonly policy: LivePolicy;
  /** The federation's Redis; undefined when the agent has no `rateLimits` section (global limits then act as on a loss). */
  readonly redis: RedisBuckets | undefined;
  readonly mode: GlobalMode;
  readonly log: Logger;
}

const now = (): number => performance.now();

function secondsOf(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Enforces the RateLimit documents of the policy in force at a destination agent: local token
 * buckets here, global ones in Redis. A request is admitted when every limit that matches it has a
 * token; local buckets are asked first, so a request refused locally costs no Redis call.
 */
export class RateLimiter {
  readonly #local = new LocalBuckets();
  readonly #held = new Map<string, Held>();
  readonly #options: RateLimiterOptions;
  readonly #unsubscribe: () => void;

  constructor(options: RateLimiterOptions) {
    this.#options = options;
    this.#unsubscribe = options.policy.onChange((next) => {
      this.#local.retain(next.limits);
      for (const key of this.#held.keys()) if (!next.limits.keys.has(key.slice(0, key.indexOf('\u0000')))) this.#held.delete(key);
    });
  }

  /** Undefined when every limit admits the request; a refusal otherwise. `limits` come from one policy version. */
  async admit(limits: readonly CompiledRateLimit[], caller: SpiffeId, method: string, path: string): Promise<RateLimitRefusal | undefined> {
    for (const limit of limits) {
      if (!limit.matches(caller, method, path)) continue;
      if (limit.local !== undefined) {
        const waitMs = this.#local.take(limit.key, limit.local.byCaller ? caller.uri : SHARED, limit.local, now());
        if (waitMs > 0) return { limit: limit.name, retryAfterS: secondsOf(waitMs), message: `rate limit "${limit.name}" (local) exceeded` };
      }
      if (limit.global !== undefined) {
        const refusal = await this.#global(limit, limit.global, limit.global.byCaller ? caller.uri : SHARED);
        if (refusal !== undefined) return refusal;
      }
    }
    return undefined;
  }

  async #global(limit: CompiledRateLimit, spec: GlobalBucketSpec, who: string): Promise<RateLimitRefusal | undefined> {
    const key = `meridian:rl:${limit.key}\u0000${who}`;
    try {
      const waitMs = this.#options.mode.kind === 'script' ? await this.#takeOne(key, spec) : await this.#takeHeld(key, spec, this.#options.mode.size);
      if (waitMs === 0) return undefined;
      return { limit: limit.name, retryAfterS: secondsOf(waitMs), message: `rate limit "${limit.name}" (global) exceeded` };
    } catch (error) {
      if (spec.failOpen) return undefined;
      return { limit: limit.name, retryAfterS: 1, message: `rate limit "${limit.name}" (global) cannot be checked: its store is unreachable (${(error as Error).message}) and onRedisLoss is closed` };
    }
  }

  async #takeOne(key: string, spec: GlobalBucketSpec): Promise<number> {
    const redis = this.#redis();
    const grant = await redis.take(key, spec, 1);
    return grant.granted === 1 ? 0 : grant.waitMs;
  }

  /** Spends a held token, fetching a batch when none is held; one fetch per bucket at a time. */
  async #takeHeld(key: string, spec: GlobalBucketSpec, size: number): Promise<number> {
    let held = this.#held.get(key);
    if (held === undefined) this.#held.set(key, (held = { tokens: 0, expiresAt: 0, emptyUntil: 0, fetching: undefined }));
    for (;;) {
      const at = now();
      if (held.tokens > 0 && at < held.expiresAt) {
        held.tokens -= 1;
        return 0;
      }
      if (at < held.emptyUntil) return held.emptyUntil - at;
      held.fetching ??= this.#fetch(held, key, spec, size);
      await held.fetching;
    }
  }

  async #fetch(held: Held, key: string, spec: GlobalBucketSpec, size: number): Promise<void> {
    try {
      const grant = await this.#redis().take(key, spec, size);
      const at = now();
      held.tokens = grant.granted;
      held.expiresAt = at + spec.periodMs;
      held.emptyUntil = grant.granted === 0 ? at + grant.waitMs : 0;
    } finally {
      held.fetching = undefined;
    }
  }

  #redis(): RedisBuckets {
    const redis = this.#options.redis;
    if (redis === undefined) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', 'no /rateLimits/redis in the agent config');
    return redis;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    await this.#options.redis?.close();
  }
}
