import { canonicalJson } from '../digest.js';
import type { PolicySet } from '../types.js';

/** One document that differs between two sets, by kind and name. */
export interface PolicyDocumentChange {
  readonly kind: string;
  readonly name: string;
  readonly change: 'added' | 'removed' | 'changed';
}

/**
 * The documents of `to` that are new, gone or changed against `from` (null: nothing published),
 * compared as validated (formatting, key order and file layout make no difference), sorted by kind
 * then name. The built-in defaults count as no document.
 */
export function diffPolicySets(from: PolicySet | null, to: PolicySet): PolicyDocumentChange[] {
  const before = documentsOf(from);
  const after = documentsOf(to);
  const changes: PolicyDocumentChange[] = [];
  for (const [key, text] of after) {
    const previous = before.get(key);
    if (previous !== text) changes.push({ ...split(key), change: previous === undefined ? 'added' : 'changed' });
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push({ ...split(key), change: 'removed' });
  return changes.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
}

function documentsOf(set: PolicySet | null): Map<string, string> {
  const documents = new Map<string, string>();
  if (set === null) return documents;
  const all = [...set.authorizations, ...set.revocations, ...(set.defaults.metadata.name === 'built-in' ? [] : [set.defaults])];
  for (const document of all) documents.set(`${document.kind}\0${document.metadata.name}`, canonicalJson(document));
  return documents;
}

function split(key: string): { kind: string; name: string } {
  const [kind = '', name = ''] = key.split('\0');
  return { kind, name };
}
