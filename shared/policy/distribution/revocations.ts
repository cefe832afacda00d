import { parseAllDocuments, stringify } from 'yaml';
import { MeridianError } from '../../errors/index.js';
import type { PolicySource } from '../types.js';

/** The Revocation document `meridian revoke` manages, in a source file of its own. */
export const REVOCATIONS_FILE = 'meridian-revocations.yaml';
export const REVOCATIONS_NAME = 'meridian-revocations';
/** Added with the first revocation of a federation that has no policy yet, so revoking does not also turn default-deny on. */
export const DEFAULTS_FILE = 'meridian-defaults.yaml';

/** One revocation entry: an identity or a certificate serial, until `notAfter`. */
export interface RevocationEntry {
  readonly identity?: string;
  readonly serial?: string;
  readonly notAfter: string;
  readonly reason?: string;
}

/**
 * The sources of the latest set with `entry` added to the CLI-managed Revocation document
 * (replacing an entry for the same identity or serial); entries already expired at `now` are
 * pruned. With no set published yet (`sources` empty), the new set also carries PolicyDefaults
 * `defaultAction: allow`: what ran before any set (every verified caller allowed) keeps running.
 */
export function withRevocation(sources: readonly PolicySource[], entry: RevocationEntry, now: Date): PolicySource[] {
  const managed = sources.find((s) => s.file === REVOCATIONS_FILE);
  const kept = existingEntries(managed).filter((e) => Date.parse(e.notAfter) > now.getTime() && !sameSubject(e, entry));
  const document = { kind: 'Revocation', metadata: { name: REVOCATIONS_NAME }, spec: { entries: [...kept, entry] } };
  const revocations: PolicySource = { file: REVOCATIONS_FILE, text: `# Managed by 'meridian revoke': entries leave when their notAfter passes.\n${stringify(document)}` };
  const others = sources.filter((s) => s.file !== REVOCATIONS_FILE);
  if (sources.length > 0) return [...others, revocations];
  const defaults = { kind: 'PolicyDefaults', metadata: { name: 'federation' }, spec: { defaultAction: 'allow' } };
  return [{ file: DEFAULTS_FILE, text: `# Written by the first 'meridian revoke': allow what no rule denies, as before any policy.\n${stringify(defaults)}` }, revocations];
}

function sameSubject(a: RevocationEntry, b: RevocationEntry): boolean {
  return (a.identity !== undefined && a.identity === b.identity) || (a.serial !== undefined && b.serial !== undefined && a.serial.replace(/:/g, '').toLowerCase() === b.serial.replace(/:/g, '').toLowerCase());
}

function existingEntries(source: PolicySource | undefined): RevocationEntry[] {
  if (source === undefined) return [];
  for (const document of parseAllDocuments(source.text)) {
    if (!('toJS' in document)) continue;
    const value = document.toJS() as { kind?: unknown; metadata?: { name?: unknown }; spec?: { entries?: unknown } } | null;
    if (value?.kind !== 'Revocation' || value.metadata?.name !== REVOCATIONS_NAME) continue;
    if (!Array.isArray(value.spec?.entries)) break;
    return (value.spec.entries as unknown[]).filter(isEntry);
  }
  throw new MeridianError('MERIDIAN_ERR_POLICY_INVALID', `${REVOCATIONS_FILE}: no Revocation document named ${REVOCATIONS_NAME} with entries; it is managed by 'meridian revoke'`);
}

function isEntry(value: unknown): value is RevocationEntry {
  const entry = value as Partial<RevocationEntry> | null;
  return typeof entry === 'object' && entry !== null && typeof entry.notAfter === 'string' && (typeof entry.identity === 'string' || typeof entry.serial === 'string');
}
