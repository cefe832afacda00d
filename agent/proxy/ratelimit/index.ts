import type { LivePolicy } from '../../../shared/policy/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { RateLimiter } from './limiter.js';
import { RedisBuckets } from './redis.js';

export { RateLimiter, type GlobalMode, type RateLimitRefusal, type RateLimiterOptions } from './limiter.js';
export { RedisBuckets, type Grant, type RedisSettings } from './redis.js';

/** The agent config's `rateLimits` as the limiter takes it (see agent/config.ts rateLimitSettings). */
export interface RateLimiterSettings {
  readonly redis: { readonly url: string; readonly username?: string; readonly passwordFile?: string; readonly caFile?: string };
  readonly mode: 'script' | 'batch';
  readonly batch: number;
  readonly timeoutMs: number;
}

/**
 * The agent's rate limiter: with `settings`, global buckets in the federation's Redis (refused
 * credentials fail here, naming the config field); without, local buckets only.
 */
export async function startRateLimiter(settings: RateLimiterSettings | undefined, policy: LivePolicy, log: Logger): Promise<RateLimiter> {
  if (settings === undefined) return new RateLimiter({ policy, redis: undefined, mode: { kind: 'script' }, log });
  const redis = await RedisBuckets.connect({ ...settings.redis, timeoutMs: settings.timeoutMs }, log);
  const mode = settings.mode === 'batch' ? { kind: 'batch' as const, size: settings.batch } : { kind: 'script' as const };
  return new RateLimiter({ policy, redis, mode, log });
}
