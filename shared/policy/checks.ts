import { isMeridianError } from '../errors/index.js';
import { parseSpiffeId } from '../identity/index.js';
import { normalizeRequestPath } from './normalize.js';
import { parseIdentityPattern } from './pattern.js';
import { parseDuration } from '../config/index.js';

/**
 * What a schema cannot say. These checks read the document as `unknown` and skip what is not of
 * the expected type (the schema reports that), so one pass reports schema and semantic
 * violations together.
 */
export interface DocumentProblem {
  readonly path: string;
  readonly message: string;
}

type Node = Readonly<Record<string, unknown>>;

function items(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node)[key] : undefined;
}

/** Exactly one of `keys` present (for the `{ exact } | { prefix }` style choices). */
function oneOf(value: unknown, keys: readonly string[], path: string): DocumentProblem[] {
  if (value === null || typeof value !== 'object') return [];
  const present = keys.filter((key) => (value as Node)[key] !== undefined);
  return present.length === 1 ? [] : [{ path, message: `exactly one of ${keys.join(', ')} (got ${present.length === 0 ? 'none' : present.join(' and ')})` }];
}

/** Identity patterns of our trust domain; one path and header condition each; paths already normalised. */
export function authorizationProblems(doc: unknown, trustDomain: string): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  items(field(field(doc, 'spec'), 'rules')).forEach((rule, r) => {
    items(field(rule, 'from')).forEach((pattern, f) => {
      const parsed = typeof pattern === 'string' ? parseIdentityPattern(pattern, trustDomain) : undefined;
      if (typeof parsed === 'string') problems.push({ path: `/spec/rules/${r}/from/${f}`, message: parsed });
    });
    items(field(rule, 'to')).forEach((operation, o) => {
      items(field(operation, 'paths')).forEach((match, p) => problems.push(...pathMatchProblems(match, `/spec/rules/${r}/to/${o}/paths/${p}`)));
      items(field(operation, 'headers')).forEach((match, h) => problems.push(...headerProblems(match, `/spec/rules/${r}/to/${o}/headers/${h}`)));
    });
  });
  return problems;
}

/** `{ exact }` or `{ prefix }`, already normalised. */
function pathMatchProblems(match: unknown, path: string): DocumentProblem[] {
  const problems = oneOf(match, ['exact', 'prefix'], path);
  const text = field(match, 'exact') ?? field(match, 'prefix');
  const message = typeof text === 'string' ? pathProblem(text) : undefined;
  if (message !== undefined) problems.push({ path, message });
  return problems;
}

/** A rate limit has a local or a global bucket (or both); its caller patterns and paths are checked as an authorization's. */
export function rateLimitProblems(doc: unknown, trustDomain: string): DocumentProblem[] {
  const spec = field(doc, 'spec');
  const problems: DocumentProblem[] = [];
  if (spec !== null && typeof spec === 'object' && field(spec, 'local') === undefined && field(spec, 'global') === undefined) {
    problems.push({ path: '/spec', message: 'a rate limit needs local, global or both' });
  }
  const match = field(spec, 'match');
  items(field(match, 'from')).forEach((pattern, f) => {
    const parsed = typeof pattern === 'string' ? parseIdentityPattern(pattern, trustDomain) : undefined;
    if (typeof parsed === 'string') problems.push({ path: `/spec/match/from/${f}`, message: parsed });
  });
  items(field(match, 'paths')).forEach((entry, p) => problems.push(...pathMatchProblems(entry, `/spec/match/paths/${p}`)));
  for (const bucket of ['local', 'global']) {
    const per = field(field(spec, bucket), 'per');
    if (typeof per === 'string' && /^\d+(\.\d+)?(ms|s|m|h)$/u.test(per) && parseDuration(per, `/spec/${bucket}/per`) < 1) {
      problems.push({ path: `/spec/${bucket}/per`, message: `${JSON.stringify(per)}: a rate's period is at least 1ms` });
    }
  }
  return problems;
}

/** One of exact or present; an exact value with a comma or surrounding spaces could never match (requests are judged value by value, trimmed). */
function headerProblems(match: unknown, path: string): DocumentProblem[] {
  const exact = field(match, 'exact');
  const problems = oneOf(match, ['exact', 'present'], path);
  if (typeof exact === 'string' && exact.includes(',')) problems.push({ path: `${path}/exact`, message: `${JSON.stringify(exact)}: a comma separates header values; match one value` });
  else if (typeof exact === 'string' && exact !== exact.trim()) problems.push({ path: `${path}/exact`, message: `${JSON.stringify(exact)}: spaces around a header value are not part of it` });
  return problems;
}

/** A policy path must be in the normalised form requests are judged in, or it could never match. */
function pathProblem(path: string): string | undefined {
  if (path.includes('?') || path.includes('#')) return `${JSON.stringify(path)}: a path without query or fragment`;
  const normalized = normalizeRequestPath(path);
  if (!normalized.ok) return `${JSON.stringify(path)}: ${normalized.reason}`;
  if (normalized.path !== path) return `${JSON.stringify(path)} is not normalised (requests are judged as ${JSON.stringify(normalized.path)})`;
  return undefined;
}

/** Revoked identities are exact SPIFFE IDs of our trust domain; every `notAfter` is a real instant. */
export function revocationProblems(doc: unknown, trustDomain: string): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  items(field(field(doc, 'spec'), 'entries')).forEach((entry, e) => {
    problems.push(...oneOf(entry, ['identity', 'serial'], `/spec/entries/${e}`));
    const notAfter = field(entry, 'notAfter');
    if (typeof notAfter === 'string' && Number.isNaN(Date.parse(notAfter))) problems.push({ path: `/spec/entries/${e}/notAfter`, message: `${JSON.stringify(notAfter)} is not a valid instant` });
    const identity = field(entry, 'identity');
    if (typeof identity !== 'string') return;
    try {
      parseSpiffeId(identity, trustDomain);
    } catch (error) {
      if (!isMeridianError(error)) throw error;
      problems.push({ path: `/spec/entries/${e}/identity`, message: error.message });
    }
  });
  return problems;
}
