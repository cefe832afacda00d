import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { MeridianError } from '../../../shared/errors/index.js';
import type { BucketSpec } from '../../../shared/policy/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';

/** Where the federation's Redis is and how to reach it (the agent config's `rateLimits.redis`). */
export interface RedisSettings {
  readonly url: string;
  readonly username?: string;
  readonly passwordFile?: string;
  readonly caFile?: string;
  /** Bound of one call: past it the call fails and the limit's `onRedisLoss` decides. */
  readonly timeoutMs: number;
}

/** What one call to the bucket script gave: tokens granted (0..want), and when a token is due if none. */
export interface Grant {
  readonly granted: number;
  readonly waitMs: number;
}

/**
 * A token bucket in one Redis hash, refilled from Redis's own clock (TIME) so agents with skewed
 * clocks agree. Takes up to ARGV[3] tokens at once (1 per decision, or a batch); returns
 * {granted, milliseconds until the next token when none was granted}. The key expires once a full
 * bucket would have refilled, so idle limits leave nothing behind.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then tokens = cap; at = now end
if now > at then tokens = math.min(cap, tokens + (now - at) * rate) end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 1000)
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) / rate) end
return {granted, wait}
`;

type TakeCommand = (key: string, ratePerMs: string, capacity: string, want: string) => Promise<[number, number]>;

/** Replies Redis gives a client whose credentials it refuses. */
const AUTH_REFUSED = /WRONGPASS|NOAUTH|invalid password|invalid username/iu;

/** How long the agent's start waits for Redis before going on without it (the limits' onRedisLoss applies meanwhile). */
const FIRST_CONNECT_MS = 3000;

function readSecret(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${field}: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

function clientOptions(settings: RedisSettings) {
  const tls = settings.url.startsWith('rediss://');
  return {
    lazyConnect: true,
    // A request never waits for a reconnect: with no offline queue and no retries, a call while
    // Redis is away fails at once, so onRedisLoss applies from the first request after the loss.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.timeoutMs,
    connectTimeout: Math.max(settings.timeoutMs, 1000),
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(settings.passwordFile === undefined ? {} : { password: readSecret(settings.passwordFile, '/rateLimits/redis/passwordFile') }),
    ...(tls ? { tls: { minVersion: 'TLSv1.3' as const, ...(settings.caFile === undefined ? {} : { ca: readSecret(settings.caFile, '/rateLimits/redis/caFile') }) } } : {}),
  };
}

/** The federation's Redis as the global buckets use it. */
export class RedisBuckets {
  readonly #client: Redis;
  readonly #take: TakeCommand;

  private constructor(client: Redis) {
    this.#client = client;
    client.defineCommand('meridianTake', { numberOfKeys: 1, lua: TAKE });
    this.#take = (client as unknown as { meridianTake: TakeCommand }).meridianTake.bind(client);
  }

  /**
   * Connects to `settings.url`. Refused credentials fail the start (MERIDIAN_ERR_CONFIG_INVALID
   * naming the field); an unreachable Redis does not: the client keeps reconnecting and the
   * limits' `onRedisLoss` applies until it answers.
   */
  static async connect(settings: RedisSettings, log: Logger): Promise<RedisBuckets> {
    const client = new Redis(settings.url, clientOptions(settings));
    let lastError = '';
    client.on('error', (error: Error) => {
      // One line per change of cause, not per reconnect attempt.
      if (error.message !== lastError) log.warn('rate limit redis unreachable', { url: settings.url, error: error.message });
      lastError = error.message;
    });
    client.on('ready', () => {
      if (lastError !== '') log.info('rate limit redis reachable again', { url: settings.url });
      lastError = '';
    });
    const first = await firstOutcome(client);
    if (first !== undefined && AUTH_REFUSED.test(first.message)) {
      client.disconnect();
      const field = settings.passwordFile === undefined ? '/rateLimits/redis/passwordFile (absent)' : '/rateLimits/redis/passwordFile';
      throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${field}: redis at ${settings.url} refused the credentials: ${first.message}`, { cause: first });
    }
    return new RedisBuckets(client);
  }

  /** Takes up to `want` tokens of the bucket `key`; rejects when Redis does not answer within the timeout. */
  async take(key: string, spec: BucketSpec, want: number): Promise<Grant> {
    const [granted, waitMs] = await this.#take(key, String(spec.ratePerMs), String(spec.capacity), String(want));
    return { granted, waitMs };
  }

  async close(): Promise<void> {
    this.#client.disconnect();
    await Promise.resolve();
  }
}

/** The first connect's error, or undefined once ready (or still trying after {@link FIRST_CONNECT_MS}). */
async function firstOutcome(client: Redis): Promise<Error | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = new Promise<Error | undefined>((resolve) => {
    client.once('ready', () => resolve(undefined));
    client.once('error', resolve);
    timer = setTimeout(() => resolve(undefined), FIRST_CONNECT_MS);
  });
  client.connect().catch(() => undefined); // reported through 'error'
  try {
    return await outcome;
  } finally {
    clearTimeout(timer);
  }
}
