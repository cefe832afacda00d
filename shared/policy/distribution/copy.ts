import { readFileSync } from 'node:fs';
import { loadOrSetAside } from '../../process/index.js';
import { MeridianError } from '../../errors/index.js';
import { writeFileAtomic } from '../../identity/files.js';
import { enforcedPolicy, type EnforcedPolicy } from '../live.js';
import { parsePolicySet } from '../parse.js';
import { decodePolicyRecord, type PolicyRecord } from './record.js';

const FORMAT = 1;

/**
 * Writes the version a process enforces to its on-disk copy (atomically, 0600), so a process
 * restarted while NATS is unreachable enforces it again before NATS answers.
 */
export function savePolicyCopy(path: string, record: PolicyRecord): void {
  writeFileAtomic(path, `${JSON.stringify({ format: FORMAT, savedAt: new Date().toISOString(), record })}\n`);
}

/** Reads the on-disk copy: null when there is none; an unreadable or invalid one is an error naming the file. */
export function loadPolicyCopy(path: string, trustDomain: string): EnforcedPolicy | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: unreadable policy copy: ${(cause as Error).message}`, { cause });
  }
  try {
    const value = JSON.parse(text) as { format?: unknown; record?: { version?: unknown } } | null;
    if (value?.format !== FORMAT) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `unsupported format ${String(value?.format)} (expected ${FORMAT})`);
    const version = value.record?.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', '/record/version is not a positive integer');
    const record = decodePolicyRecord(JSON.stringify(value.record), version);
    return enforcedPolicy(parsePolicySet(record.sources, { trustDomain }), version);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: unreadable policy copy: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Reads the on-disk copy; one that cannot be used (truncated, garbage, another trust domain, a
 * set that no longer parses) is renamed to `<file>.corrupt-<timestamp>`, kept for diagnosis, and
 * the process starts from NO_POLICY until NATS gives it the latest version: a bad cache must
 * never keep a process from starting.
 */
export function loadPolicyCopyOrSetAside(path: string, trustDomain: string, onSetAside: (movedTo: string | undefined, error: Error) => void): EnforcedPolicy | null {
  return loadOrSetAside(path, (file) => loadPolicyCopy(file, trustDomain), null, onSetAside);
}
