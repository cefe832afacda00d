import type { SpiffeId } from '../identity/index.js';
import { parseDuration } from '../config/index.js';
import { digestOf } from './digest.js';
import { compileOperation, operationMatches, type CompiledOperation } from './operations.js';
import { parseIdentityPattern } from './pattern.js';
import type { RateLimitDocument } from './schema.js';
import type { PolicySet } from './types.js';

/** One token bucket's shape: `ratePerMs` tokens a millisecond, at most `capacity`, keyed by the whole limit or each caller. */
export interface BucketSpec {
  readonly rate: number;
  readonly periodMs: number;
  readonly ratePerMs: number;
  readonly capacity: number;
  readonly byCaller: boolean;
}

/** A global bucket adds what to do while Redis is unreachable. */
export interface GlobalBucketSpec extends BucketSpec {
  readonly failOpen: boolean;
}

/**
 * A RateLimit document compiled for the data path. `key` is its name and a digest of its spec:
 * a changed limit starts fresh buckets (local and in Redis), an unchanged one keeps them across
 * policy versions.
 */
export interface CompiledRateLimit {
  readonly name: string;
  readonly key: string;
  readonly service: string;
  readonly local: BucketSpec | undefined;
  readonly global: GlobalBucketSpec | undefined;
  /** Whether the limit counts this request. */
  matches(caller: SpiffeId, method: string, path: string): boolean;
}

/** The rate limits of a policy set, by destination service. */
export interface RateLimits {
  readonly size: number;
  /** Every limit's `key`: buckets of other keys belong to limits changed or removed. */
  readonly keys: ReadonlySet<string>;
  /** The limits of `service` (the same empty array for a service without any, so the common case allocates nothing). */
  forService(service: string): readonly CompiledRateLimit[];
}

const NONE: readonly CompiledRateLimit[] = Object.freeze([]);

/** Rate limits of a set without any. */
export const NO_RATE_LIMITS: RateLimits = Object.freeze({ size: 0, keys: new Set<string>(), forService: () => NONE });

function bucket(spec: { rate: number; per: string; burst?: number; by?: 'service' | 'caller' }, path: string): BucketSpec {
  const periodMs = parseDuration(spec.per, path);
  return { rate: spec.rate, periodMs, ratePerMs: spec.rate / periodMs, capacity: spec.burst ?? spec.rate, byCaller: spec.by === 'caller' };
}

/** Whether `id` meets a parsed pattern's segments (`*` one segment, a final `**` any rest). */
function identityMatches(segments: readonly string[], id: SpiffeId): boolean {
  const own = id.kind === 'site' ? ['site', id.site] : ['site', id.site, id.kind, id.name];
  for (const [index, segment] of segments.entries()) {
    if (segment === '**') return true;
    const actual = own[index];
    if (actual === undefined || (segment !== '*' && segment !== actual)) return false;
  }
  return segments.length === own.length;
}

function compileMatcher(doc: RateLimitDocument, trustDomain: string): CompiledRateLimit['matches'] {
  const match = doc.spec.match;
  if (match === undefined) return () => true;
  const operation: CompiledOperation = compileOperation({ ...(match.methods === undefined ? {} : { methods: match.methods }), ...(match.paths === undefined ? {} : { paths: match.paths }) });
  const patterns = match.from?.map((text) => parseIdentityPattern(text, trustDomain)).flatMap((parsed) => (typeof parsed === 'string' ? [] : [parsed.segments]));
  // Callers are a bounded set (the federation's workloads): each is judged once.
  const callers = new Map<string, boolean>();
  const request = { protocol: 'http' as const, method: '', path: '' };
  return (caller, method, path) => {
    if (patterns !== undefined) {
      let known = callers.get(caller.uri);
      if (known === undefined) callers.set(caller.uri, (known = patterns.some((segments) => identityMatches(segments, caller))));
      if (!known) return false;
    }
    request.method = method;
    request.path = path;
    return operationMatches(operation, request, false);
  };
}

function compileLimit(doc: RateLimitDocument, trustDomain: string): CompiledRateLimit {
  const { local, global } = doc.spec;
  return {
    name: doc.metadata.name,
    key: `${doc.metadata.name}:${digestOf(doc.spec).slice(7, 23)}`,
    service: doc.spec.service,
    local: local === undefined ? undefined : bucket(local, '/spec/local/per'),
    global: global === undefined ? undefined : { ...bucket(global, '/spec/global/per'), failOpen: global.onRedisLoss !== 'closed' },
    matches: compileMatcher(doc, trustDomain),
  };
}

/** Compiles the set's RateLimit documents once per policy version. */
export function compileRateLimits(set: PolicySet): RateLimits {
  if (set.rateLimits.length === 0) return NO_RATE_LIMITS;
  const byService = new Map<string, CompiledRateLimit[]>();
  const keys = new Set<string>();
  for (const doc of set.rateLimits) {
    const limit = compileLimit(doc, set.trustDomain);
    const list = byService.get(doc.spec.service) ?? [];
    list.push(limit);
    keys.add(limit.key);
    byService.set(doc.spec.service, list);
  }
  return { size: set.rateLimits.length, keys, forService: (service) => byService.get(service) ?? NONE };
}
