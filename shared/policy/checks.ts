import { isMeridianError } from '../errors/index.js';
import { parseSpiffeId } from '../identity/index.js';
import { normalizeRequestPath } from './normalize.js';
import { parseIdentityPattern } from './pattern.js';
import type { AuthorizationDocument, PathMatch, RevocationDocument } from './schema.js';

/** A violation inside one document: its JSON path and what is wrong. */
export interface DocumentProblem {
  readonly path: string;
  readonly message: string;
}

/** What a schema cannot say about an Authorization: identity patterns of our trust domain, paths already normalised. */
export function authorizationProblems(doc: AuthorizationDocument, trustDomain: string): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  doc.spec.rules.forEach((rule, r) => {
    rule.from.forEach((pattern, f) => {
      const parsed = parseIdentityPattern(pattern, trustDomain);
      if (typeof parsed === 'string') problems.push({ path: `/spec/rules/${r}/from/${f}`, message: parsed });
    });
    (rule.to ?? []).forEach((operation, o) => {
      (operation.paths ?? []).forEach((match, p) => {
        const message = pathProblem(match);
        if (message !== undefined) problems.push({ path: `/spec/rules/${r}/to/${o}/paths/${p}`, message });
      });
    });
  });
  return problems;
}

/** A policy path must be in the normalised form requests are judged in, or it could never match. */
function pathProblem(match: PathMatch): string | undefined {
  const path = 'exact' in match ? match.exact : match.prefix;
  if (path.includes('?') || path.includes('#')) return `${JSON.stringify(path)}: a path without query or fragment`;
  const normalized = normalizeRequestPath(path);
  if (!normalized.ok) return `${JSON.stringify(path)}: ${normalized.reason}`;
  if (normalized.path !== path) return `${JSON.stringify(path)} is not normalised (requests are judged as ${JSON.stringify(normalized.path)})`;
  return undefined;
}

/** Revoked identities are exact SPIFFE IDs of our trust domain; every `notAfter` is a real instant. */
export function revocationProblems(doc: RevocationDocument, trustDomain: string): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  doc.spec.entries.forEach((entry, e) => {
    if (Number.isNaN(Date.parse(entry.notAfter))) problems.push({ path: `/spec/entries/${e}/notAfter`, message: `${JSON.stringify(entry.notAfter)} is not a valid instant` });
    if (!('identity' in entry)) return;
    try {
      parseSpiffeId(entry.identity, trustDomain);
    } catch (error) {
      if (!isMeridianError(error)) throw error;
      problems.push({ path: `/spec/entries/${e}/identity`, message: error.message });
    }
  });
  return problems;
}
