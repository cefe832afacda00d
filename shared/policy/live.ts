import { Listeners } from '../process/index.js';
import { compileAuthorizer, type Authorizer } from './authorizer.js';
import { compileRevocations, type RevocationList } from './revocation.js';
import { compileRateLimits, NO_RATE_LIMITS, type RateLimits } from './rate-limits.js';
import type { PolicySet } from './types.js';

/**
 * The policy a process enforces: the version it came from (the sequence of the federation's
 * policy stream; versions only grow) and the structures compiled from it once, so the data path
 * only reads fields and calls `decide` / `isRevoked`.
 */
export interface EnforcedPolicy {
  /** The version; null while no policy set was ever published (everything is allowed then). */
  readonly version: number | null;
  readonly digest: string | null;
  /** The validated set; null while none is published. */
  readonly set: PolicySet | null;
  readonly authorizer: Authorizer;
  readonly revocations: RevocationList;
  /** The RateLimit documents by destination service, enforced at the destination's inbound. */
  readonly limits: RateLimits;
}

/**
 * What a process enforces before any policy set was ever published: every verified caller may call
 * every service, mTLS strict, nothing revoked. The mesh worked that way before policies existed,
 * and a federation that never applies one keeps working; the first applied set brings its own
 * defaults (deny what no rule allows unless its PolicyDefaults say otherwise).
 */
export const NO_POLICY: EnforcedPolicy = Object.freeze({
  version: null,
  digest: null,
  set: null,
  authorizer: Object.freeze({
    digest: 'none',
    decide: () => ALLOW_UNPUBLISHED,
    mtlsMode: () => 'strict' as const,
  }),
  revocations: Object.freeze({ size: 0, isRevoked: () => false }),
  limits: NO_RATE_LIMITS,
});

const ALLOW_UNPUBLISHED = Object.freeze({ allowed: true, rule: 'none', reason: 'no policy set is published; every verified caller is allowed' });

/** Compiles `set` at `version` (revocations already expired at `now` are left out). */
export function enforcedPolicy(set: PolicySet, version: number, now: number = Date.now()): EnforcedPolicy {
  return Object.freeze({ version, digest: set.digest, set, authorizer: compileAuthorizer(set), revocations: compileRevocations(set, now), limits: compileRateLimits(set) });
}

/** Told the policy now enforced and the one it replaced. */
export type PolicyListener = (next: EnforcedPolicy, previous: EnforcedPolicy) => void;

/**
 * The policy a process enforces now, shared by its listeners, proxies, signer and status. `current`
 * is a field read. `replace` never goes back: a version at or below the current one is ignored
 * (a reconnect that replays an older message, a stale on-disk copy), and says so by returning false.
 */
export class LivePolicy {
  #current: EnforcedPolicy;
  readonly #listeners: Listeners<Parameters<PolicyListener>>;

  constructor(initial: EnforcedPolicy = NO_POLICY, options: { onListenerError?: (error: Error) => void } = {}) {
    this.#current = initial;
    this.#listeners = new Listeners(options.onListenerError);
  }

  get current(): EnforcedPolicy {
    return this.#current;
  }

  /** Enforces `next` when its version is newer, then tells every listener (one that throws does not stop the others). */
  replace(next: EnforcedPolicy): boolean {
    const previous = this.#current;
    if (next.version === null || (previous.version !== null && next.version <= previous.version)) return false;
    this.#current = next;
    this.#listeners.notify(next, previous);
    return true;
  }

  /** Calls `listener` on every change from now on; returns the function that stops it. */
  onChange(listener: PolicyListener): () => void {
    return this.#listeners.add(listener);
  }
}

/** What a process reports of its policy: the version it enforces, and the newest version it refused with why. */
export interface PolicyReport {
  readonly version: number | null;
  readonly rejected: { readonly version: number; readonly reason: string } | null;
}

/** The newest version a site holds, and when it was applied (at the site that applied it, ISO time). */
export interface PolicyLatest {
  readonly version: number;
  readonly appliedAt: string;
}
