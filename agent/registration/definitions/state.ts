import type { MeridianError } from '../../../shared/errors/index.js';
import type { DefinitionsFileScan } from './file.js';
import { duplicateInstanceError, type ParsedDefinition } from './parse.js';
import type { DefinitionRemoval, DefinitionsChange, DefinitionsFileError, DefinitionUpsert } from './types.js';

/** A registered definition with its canonical JSON, to tell a real edit from a rewrite. */
export interface StoredDefinition extends ParsedDefinition {
  readonly json: string;
}

/** The last good state: each file's registered definitions, by path. */
export type DefinitionsState = ReadonlyMap<string, readonly StoredDefinition[]>;

interface Candidate {
  readonly files: Map<string, readonly StoredDefinition[]>;
  /** Files whose new content is being adopted; the others keep their last good definitions. */
  readonly accepted: Set<string>;
  readonly errors: DefinitionsFileError[];
}

/**
 * Computes the next good state from a scan of the directory, and the change that leads there.
 * A file is applied whole or not at all: a file with any error keeps its last good definitions.
 * Files missing from the scan lose theirs. When two files claim one instanceId, the file that
 * held it in the last good state keeps it, else the first by path; the other file is rejected.
 */
export function reconcile(previous: DefinitionsState, scans: readonly DefinitionsFileScan[]): {
  next: DefinitionsState;
  change: DefinitionsChange;
} {
  const candidate = adoptValidFiles(previous, scans);
  rejectInstanceConflicts(previous, candidate);
  const next = new Map([...candidate.files].filter(([, defs]) => defs.length > 0).sort(([a], [b]) => compare(a, b)));
  return { next, change: { ...diff(previous, next), errors: candidate.errors } };
}

/**
 * The instanceIds that no file defines any more after `change`: those of removed definitions and
 * of replaced ones (`previous`), minus those still defined. Deregister exactly these; comparing an
 * upsert with its own `previous` is not enough, since definitions can swap places in a file.
 */
export function retiredInstanceIds(change: DefinitionsChange): string[] {
  const live = new Set(change.upserted.map((u) => u.definition.instanceId));
  const before = [...change.removed.map((r) => r.definition), ...change.upserted.map((u) => u.previous)];
  const gone = before.map((d) => d?.instanceId).filter((id): id is string => id !== undefined && !live.has(id));
  return [...new Set(gone)].sort(compare);
}

/** Deterministic JSON: object keys sorted, so key order in a file is not a change. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => compare(a, b)))
      : v,
  );
}

function adoptValidFiles(previous: DefinitionsState, scans: readonly DefinitionsFileScan[]): Candidate {
  const candidate: Candidate = { files: new Map(), accepted: new Set(), errors: [] };
  for (const { path, result } of scans) {
    if (result.errors.length === 0) {
      candidate.files.set(path, result.definitions.map((d) => ({ ...d, json: canonicalJson(d.definition) })));
      candidate.accepted.add(path);
    } else {
      candidate.files.set(path, previous.get(path) ?? []);
      candidate.errors.push(...result.errors.map((error) => ({ path, error })));
    }
  }
  return candidate;
}

/**
 * Rejects adopted files that claim an instanceId another file holds, until none is left. Terminates:
 * each round rejects at least one adopted file, and a rejected file falls back to definitions that
 * were conflict-free in the last good state, whose holders win every tie.
 */
function rejectInstanceConflicts(previous: DefinitionsState, candidate: Candidate): void {
  const heldBefore = instanceHolders(previous);
  for (;;) {
    const losers = findConflicts(heldBefore, candidate.files);
    const rejected = [...losers].filter(([path]) => candidate.accepted.has(path));
    if (rejected.length === 0) return;
    for (const [path, errors] of rejected) {
      candidate.accepted.delete(path);
      candidate.files.set(path, previous.get(path) ?? []);
      candidate.errors.push(...errors.map((error) => ({ path, error })));
    }
  }
}

function instanceHolders(state: DefinitionsState): Map<string, string> {
  const holders = new Map<string, string>();
  for (const [path, defs] of state) {
    for (const { definition } of defs) if (definition.instanceId !== undefined) holders.set(definition.instanceId, path);
  }
  return holders;
}

function findConflicts(heldBefore: Map<string, string>, files: Candidate['files']): Map<string, MeridianError[]> {
  const claims = new Map<string, { path: string; def: StoredDefinition }[]>();
  for (const path of [...files.keys()].sort(compare)) {
    for (const def of files.get(path) ?? []) {
      const id = def.definition.instanceId;
      if (id !== undefined) claims.set(id, [...(claims.get(id) ?? []), { path, def }]);
    }
  }
  const losers = new Map<string, MeridianError[]>();
  for (const [id, list] of claims) {
    if (list.length < 2) continue;
    const winner = list.find((c) => c.path === heldBefore.get(id)) ?? list[0];
    for (const claim of list) {
      if (winner === undefined || claim === winner) continue;
      const error = duplicateInstanceError(claim.def.source, id, winner.def.source);
      losers.set(claim.path, [...(losers.get(claim.path) ?? []), error]);
    }
  }
  return losers;
}

function diff(previous: DefinitionsState, next: DefinitionsState): { upserted: DefinitionUpsert[]; removed: DefinitionRemoval[] } {
  const upserted: DefinitionUpsert[] = [];
  const removed: DefinitionRemoval[] = [];
  const paths = [...new Set([...previous.keys(), ...next.keys()])].sort(compare);
  for (const path of paths) {
    const before = new Map((previous.get(path) ?? []).map((d) => [d.index, d]));
    const after = next.get(path) ?? [];
    for (const d of after) {
      const old = before.get(d.index);
      if (old === undefined) upserted.push({ path, index: d.index, definition: d.definition });
      else if (old.json !== d.json) upserted.push({ path, index: d.index, definition: d.definition, previous: old.definition });
    }
    const kept = new Set(after.map((d) => d.index));
    for (const d of before.values()) if (!kept.has(d.index)) removed.push({ path, index: d.index, definition: d.definition });
  }
  return { upserted, removed };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
