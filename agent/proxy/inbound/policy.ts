import type { IncomingHttpHeaders } from 'node:http';
import type { SpiffeId } from '../../../shared/identity/index.js';
import {
  normalizeRequestPath,
  type AuthorizationRequest,
  type Decision,
  type EncodedSlashAction,
  type EnforcedPolicy,
  type RejectedTarget,
} from '../../../shared/policy/index.js';

/** The rule an access-log line and the denial metric name for a request target refused before any rule could judge it. */
export const PATH_REJECTED_RULE = 'path-normalization';
/** The rule named for a connection refused because its caller's certificate is revoked. */
export const REVOKED_RULE = 'revocation';

const SLASH = 0x2f;
const DOT = 0x2e;
const QUESTION = 0x3f;

/**
 * RFC 3986 pchar characters that normalisation keeps as they are: letters, digits, `-._~`,
 * sub-delims, `:` and `@`. A 128-entry table, so the common path is checked without a regex.
 */
const KEPT = new Uint8Array(128);
for (const char of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@") KEPT[char.charCodeAt(0)] = 1;

/**
 * Whether `normalizeRequestPath` would give `raw` back unchanged: an origin-form target with no
 * percent-escape, no `//`, no segment starting with a dot, no fragment, and a query of visible
 * ASCII without escapes. Almost every real request is one; reading its characters is all it
 * costs, where the full normaliser builds a new string. Anything else takes the full normaliser.
 */
export function isNormalTarget(raw: string): boolean {
  if (raw.charCodeAt(0) !== SLASH) return false;
  let i = 1;
  let previous = SLASH;
  for (; i < raw.length; i += 1) {
    const code = raw.charCodeAt(i);
    if (code === QUESTION) break;
    if (code === SLASH || code === DOT) {
      if (previous === SLASH) return false;
    } else if (code >= 128 || KEPT[code] !== 1) {
      return false;
    }
    previous = code;
  }
  for (i += 1; i < raw.length; i += 1) {
    const code = raw.charCodeAt(i);
    // '#' (a fragment to drop) and '%' (escapes to check) go to the full normaliser.
    if (code < 0x21 || code > 0x7e || code === 0x23 || code === 0x25) return false;
  }
  return true;
}

/** A request target as the policy judges it (`path`) and as the app receives it (`target`: path and query). */
export interface JudgedTarget {
  path: string;
  target: string;
}

/**
 * Fills `out` with the normalised path and forwarded target of `raw`, or returns why `raw` is
 * refused (a 400). `out` is the caller's, so the common path allocates nothing but the path slice.
 */
export function judgeTarget(raw: string, encodedSlashes: EncodedSlashAction, out: JudgedTarget): RejectedTarget | undefined {
  if (isNormalTarget(raw)) {
    const mark = raw.indexOf('?');
    out.path = mark === -1 ? raw : raw.slice(0, mark);
    out.target = raw;
    return undefined;
  }
  const normalized = normalizeRequestPath(raw, { encodedSlashes });
  if (!normalized.ok) return normalized;
  out.path = normalized.path;
  out.target = normalized.query === '' ? normalized.path : normalized.path + normalized.query;
  return undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});

/**
 * One request object reused for every HTTP decision: `decide` is synchronous and keeps nothing,
 * so filling a scratch object spares an allocation per request.
 */
const scratch: Mutable<AuthorizationRequest> & { headers: IncomingHttpHeaders } = {
  source: { uri: '', trustDomain: '', site: '', kind: 'svc', name: '' },
  destinationService: '',
  protocol: 'http',
  method: '',
  path: '/',
  headers: NO_HEADERS,
};

/** The policy's decision on one HTTP request (method, normalised path, headers) from `source` to `service`. */
export function decideHttp(policy: EnforcedPolicy, source: SpiffeId, service: string, method: string, path: string, headers: IncomingHttpHeaders): Decision {
  scratch.source = source;
  scratch.destinationService = service;
  scratch.method = method;
  scratch.path = path;
  scratch.headers = headers;
  const decision = policy.authorizer.decide(scratch);
  // Let go of the request's headers at once, so the scratch object keeps no request alive.
  scratch.headers = NO_HEADERS;
  return decision;
}

/** The policy's decision on a raw TCP connection from `source` to `service` (HTTP conditions cannot be judged: see operations.ts). */
export function decideTcp(policy: EnforcedPolicy, source: SpiffeId, service: string): Decision {
  return policy.authorizer.decide({ source, destinationService: service, protocol: 'tcp' });
}

/** The refusal message of a denied call: the caller, what it asked, the reason, the rule and the policy version. */
export function denialMessage(caller: string, service: string, what: string, decision: Decision, version: number | null): string {
  return `${caller} may not ${what} on service "${service}": ${decision.reason} (rule ${decision.rule}, policy version ${String(version)})`;
}
