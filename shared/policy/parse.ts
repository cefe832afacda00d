import { Value } from '@sinclair/typebox/value';
import { parseAllDocuments } from 'yaml';
import { MeridianError } from '../errors/index.js';
import { violationsOf } from '../config/violations.js';
import { authorizationProblems, rateLimitProblems, revocationProblems, type DocumentProblem } from './checks.js';
import { digestOf } from './digest.js';
import { KIND_SCHEMAS, type AuthorizationDocument, type PolicyDefaultsDocument, type PolicyKind, type RateLimitDocument, type RevocationDocument } from './schema.js';
import type { ParseOptions, PolicySet, PolicySource, PolicyViolation } from './types.js';

type PolicyDocument = AuthorizationDocument | RevocationDocument | PolicyDefaultsDocument | RateLimitDocument;

interface Located {
  readonly file: string;
  readonly index: number;
  readonly doc: PolicyDocument;
}

/** The defaults when the set has no PolicyDefaults document: deny what no rule allows, strict mTLS. */
export const BUILT_IN_DEFAULTS: PolicyDefaultsDocument = {
  kind: 'PolicyDefaults',
  metadata: { name: 'built-in' },
  spec: { defaultAction: 'deny', mtls: { mode: 'strict' } },
};

/** Aliases a document may expand: enough for anchors in hand-written policies, far from an expansion bomb. */
const MAX_ALIASES = 50;

const KINDS = Object.keys(KIND_SCHEMAS) as PolicyKind[];

function problemsOf(value: unknown, trustDomain: string): { doc?: PolicyDocument; problems: DocumentProblem[] } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problems: [{ path: '/', message: 'a policy document is a mapping with kind, metadata and spec' }] };
  const kind = (value as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !KINDS.includes(kind as PolicyKind)) {
    return { problems: [{ path: '/kind', message: `unknown kind ${JSON.stringify(kind) ?? 'nothing'} (expected ${KINDS.join(', ')})` }] };
  }
  const schema = KIND_SCHEMAS[kind as PolicyKind];
  const withDefaults: unknown = Value.Default(schema, value);
  const problems = [...violationsOf(schema, withDefaults), ...semanticProblems(kind as PolicyKind, withDefaults, trustDomain)];
  return problems.length > 0 ? { problems } : { doc: withDefaults as PolicyDocument, problems };
}

function semanticProblems(kind: PolicyKind, value: unknown, trustDomain: string): DocumentProblem[] {
  if (kind === 'Authorization') return authorizationProblems(value, trustDomain);
  if (kind === 'Revocation') return revocationProblems(value, trustDomain);
  if (kind === 'RateLimit') return rateLimitProblems(value, trustDomain);
  return [];
}

function readSource(source: PolicySource, trustDomain: string, found: Located[], violations: PolicyViolation[]): void {
  const documents = parseAllDocuments(source.text, { prettyErrors: false, uniqueKeys: true });
  for (const [index, yaml] of (Array.isArray(documents) ? documents : [documents]).entries()) {
    const at = { file: source.file, document: index };
    if (yaml.errors.length > 0) {
      for (const error of yaml.errors) violations.push({ ...at, path: '/', message: `YAML: ${error.message.split('\n')[0] ?? ''}` });
      continue;
    }
    let value: unknown;
    try {
      value = yaml.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (error) {
      // the yaml library refuses alias expansion past the bound (a "billion laughs" document)
      violations.push({ ...at, path: '/', message: `YAML: ${(error as Error).message}` });
      continue;
    }
    if (value === null || value === undefined) continue; // an empty document (a trailing '---'): nothing to judge
    const { doc, problems } = problemsOf(value, trustDomain);
    violations.push(...problems.map((p) => ({ ...at, ...p })));
    // an invalid document still holds its name: a duplicate is reported in the same pass
    const named = (doc ?? value) as Partial<PolicyDocument> | null;
    if (typeof named === 'object' && named !== null && KINDS.includes(named.kind as PolicyKind) && typeof named.metadata?.name === 'string') {
      found.push({ file: source.file, index, doc: named as PolicyDocument });
    }
  }
}

/** Two documents of one kind may not share a name; a federation has at most one PolicyDefaults. */
function crossProblems(found: readonly Located[]): PolicyViolation[] {
  const seen = new Map<string, Located>();
  const violations: PolicyViolation[] = [];
  for (const item of found) {
    const key = `${item.doc.kind}/${item.doc.metadata.name}`;
    const first = seen.get(key);
    const at = { file: item.file, document: item.index, path: '/metadata/name' };
    if (first !== undefined) violations.push({ ...at, message: `duplicate ${item.doc.kind} ${JSON.stringify(item.doc.metadata.name)} (first in ${first.file}#${first.index})` });
    else seen.set(key, item);
  }
  const defaults = found.filter((item) => item.doc.kind === 'PolicyDefaults');
  for (const extra of defaults.slice(1)) {
    const first = defaults[0] as Located;
    violations.push({ file: extra.file, document: extra.index, path: '/kind', message: `a second PolicyDefaults (the federation's is ${JSON.stringify(first.doc.metadata.name)} in ${first.file}#${first.index})` });
  }
  return violations;
}

/** `file#doc path: message`, one violation per line. */
export function formatViolation(v: PolicyViolation): string {
  return `${v.file}#${v.document} ${v.path}: ${v.message}`;
}

/**
 * Parses and validates every YAML document of every source. An invalid set is refused whole:
 * MERIDIAN_ERR_POLICY_INVALID lists every violation (message and `details.violations`), so a
 * caller holding an older set simply keeps it.
 */
export function parsePolicySet(sources: readonly PolicySource[], options: ParseOptions): PolicySet {
  const found: Located[] = [];
  const violations: PolicyViolation[] = [];
  for (const source of sources) readSource(source, options.trustDomain, found, violations);
  violations.push(...crossProblems(found));
  if (violations.length > 0) {
    throw new MeridianError('MERIDIAN_ERR_POLICY_INVALID', `invalid policy set (${violations.length} violation${violations.length === 1 ? '' : 's'}):\n${violations.map(formatViolation).join('\n')}`, {
      details: { violations },
    });
  }
  return buildSet(found.map((item) => item.doc), options.trustDomain);
}

function byName<T extends PolicyDocument>(docs: readonly PolicyDocument[], kind: T['kind']): T[] {
  return (docs.filter((d) => d.kind === kind) as T[]).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}

function buildSet(docs: readonly PolicyDocument[], trustDomain: string): PolicySet {
  const authorizations = byName<AuthorizationDocument>(docs, 'Authorization');
  const revocations = byName<RevocationDocument>(docs, 'Revocation');
  const defaults = byName<PolicyDefaultsDocument>(docs, 'PolicyDefaults')[0] ?? BUILT_IN_DEFAULTS;
  const rateLimits = byName<RateLimitDocument>(docs, 'RateLimit');
  // Rate limits join the digest only when present, so the digest of a set without any is unchanged.
  const digest = digestOf({ trustDomain, authorizations, revocations, defaults, ...(rateLimits.length === 0 ? {} : { rateLimits }) });
  return deepFreeze({ trustDomain, digest, authorizations, revocations, defaults: structuredClone(defaults), rateLimits });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
