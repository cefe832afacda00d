import { MeridianError } from '../errors/index.js';
import type { IdentityKind, SpiffeId } from './types.js';
import { DNS_LABEL_PATTERN } from '../text/index.js';

const SCHEME = 'spiffe://';
const MAX_ID_LENGTH = 2048;
const TRUST_DOMAIN_PATTERN = /^[a-z0-9]([a-z0-9._-]{0,253}[a-z0-9])?$/;
const SEGMENT_PATTERN = /^[A-Za-z0-9._-]+$/;
const NAME_PATTERN = DNS_LABEL_PATTERN;
const KINDS: readonly IdentityKind[] = ['svc', 'gateway', 'agent'];

function invalid(id: string, reason: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID ${JSON.stringify(id)}: ${reason}`, {
    details: { spiffeId: id, reason },
  });
}

/** Validates a trust domain name (lower-case DNS-like label set, no port, no userinfo). */
export function assertTrustDomain(trustDomain: string): void {
  if (!TRUST_DOMAIN_PATTERN.test(trustDomain) || trustDomain.includes('..')) {
    throw new MeridianError(
      'MERIDIAN_ERR_BAD_ARGUMENT',
      `trust domain ${JSON.stringify(trustDomain)} is invalid: use lower-case letters, digits, '.', '-' and '_' (e.g. acme.internal)`,
    );
  }
}

/** Validates a site, service, gateway or node name used inside a SPIFFE path. */
export function assertName(field: string, value: string): void {
  if (!NAME_PATTERN.test(value)) {
    throw new MeridianError(
      'MERIDIAN_ERR_BAD_ARGUMENT',
      `${field} ${JSON.stringify(value)} is invalid: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
    );
  }
}

/**
 * Parses a SPIFFE ID strictly: exact scheme, a trust domain equal to `expectedTrustDomain`,
 * no port, userinfo, query, fragment, percent-encoding, NUL, wildcard, empty, '.' or '..'
 * segment, and a Meridian shape: `/site/<site>` (a site CA) or `/site/<site>/<kind>/<name>`.
 */
export function parseSpiffeId(id: string, expectedTrustDomain: string): SpiffeId {
  checkCharacters(id);
  const rest = id.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (!TRUST_DOMAIN_PATTERN.test(trustDomain)) throw invalid(id, 'malformed trust domain');
  if (trustDomain !== expectedTrustDomain) {
    throw new MeridianError(
      'MERIDIAN_ERR_TRUST_DOMAIN_MISMATCH',
      `SPIFFE ID ${JSON.stringify(id)} belongs to trust domain ${JSON.stringify(trustDomain)}, expected ${JSON.stringify(expectedTrustDomain)}`,
      { details: { spiffeId: id, trustDomain, expectedTrustDomain } },
    );
  }
  if (slash === -1) throw invalid(id, 'no path: a trust domain alone is not a workload identity');
  return parsePath(id, trustDomain, rest.slice(slash + 1).split('/'));
}

function checkCharacters(id: string): void {
  if (id.length > MAX_ID_LENGTH) throw invalid(id, `longer than ${MAX_ID_LENGTH} characters`);
  if (id.includes('\0')) throw invalid(id, 'contains a NUL character');
  if (!id.startsWith(SCHEME)) throw invalid(id, "scheme must be 'spiffe://' (lower case)");
  for (const [char, reason] of [
    ['*', 'wildcards are not allowed'],
    ['%', 'percent-encoding is not allowed'],
    ['?', 'a query is not allowed'],
    ['#', 'a fragment is not allowed'],
    ['@', 'userinfo is not allowed'],
    [':', 'a port is not allowed'],
  ] as const) {
    if (id.slice(SCHEME.length).includes(char)) throw invalid(id, reason);
  }
}

function parsePath(id: string, trustDomain: string, segments: string[]): SpiffeId {
  for (const segment of segments) {
    if (segment === '') throw invalid(id, 'empty path segment');
    if (segment === '.' || segment === '..') throw invalid(id, "'.' and '..' segments are not allowed");
    if (!SEGMENT_PATTERN.test(segment)) throw invalid(id, `segment ${JSON.stringify(segment)} has characters outside [A-Za-z0-9._-]`);
  }
  const [siteLiteral, site, kind, name, ...extra] = segments;
  if (siteLiteral !== 'site' || site === undefined) throw invalid(id, "path must start with '/site/<site>'");
  if (!NAME_PATTERN.test(site)) throw invalid(id, `site ${JSON.stringify(site)} is not a valid name`);
  if (kind === undefined) return Object.freeze({ uri: id, trustDomain, site, kind: 'site', name: site });
  if (!KINDS.includes(kind as IdentityKind)) throw invalid(id, `kind must be one of ${KINDS.join(', ')}`);
  if (name === undefined || extra.length > 0) throw invalid(id, `path must be '/site/<site>/${kind}/<name>'`);
  if (!NAME_PATTERN.test(name)) throw invalid(id, `name ${JSON.stringify(name)} is not a valid name`);
  return Object.freeze({ uri: id, trustDomain, site, kind: kind as IdentityKind, name });
}

/** Builds the canonical SPIFFE ID of a site CA or of a workload, gateway or agent. */
export function formatSpiffeId(trustDomain: string, site: string, kind?: IdentityKind, name?: string): string {
  assertTrustDomain(trustDomain);
  assertName('site', site);
  if (kind === undefined) return `${SCHEME}${trustDomain}/site/${site}`;
  if (name === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a ${kind} identity needs a name`);
  assertName(kind === 'svc' ? 'service' : kind, name);
  return `${SCHEME}${trustDomain}/site/${site}/${kind}/${name}`;
}
