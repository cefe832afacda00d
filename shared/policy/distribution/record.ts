import { MeridianError } from '../../errors/index.js';
import type { PolicySource } from '../types.js';
import { MAX_POLICY_RECORD_BYTES } from './layout.js';

/** Who applied a version: the site whose control user published it, and the person or tool. */
export interface AppliedBy {
  readonly site: string;
  readonly who: string;
}

/** One version of the federation's policy set, as the policy stream carries it (JSON body). */
export interface PolicyRecord {
  /** The stream sequence of the message: filled on read, never trusted from the body. */
  readonly version: number;
  readonly digest: string;
  /** The YAML files as applied (file names as given to `apply`). */
  readonly sources: readonly PolicySource[];
  readonly appliedAt: string;
  readonly appliedBy: AppliedBy;
  /** The version that was latest when this one was applied (null: the first). */
  readonly basedOn: number | null;
  /** Set by a rollback: the version whose sources this one re-applies. */
  readonly rollbackOf?: number;
}

/** The body published: a record without its version (the stream gives it). */
export type PolicyRecordBody = Omit<PolicyRecord, 'version'>;

/** JSON body of a record; over {@link MAX_POLICY_RECORD_BYTES} is MERIDIAN_ERR_BODY_TOO_LARGE naming the files. */
export function encodePolicyRecord(body: PolicyRecordBody): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify({ ...body, version: undefined }));
  if (bytes.length > MAX_POLICY_RECORD_BYTES) {
    throw new MeridianError(
      'MERIDIAN_ERR_BODY_TOO_LARGE',
      `policy set (${body.sources.map((s) => s.file).join(', ')}): ${bytes.length} bytes, over the limit of ${MAX_POLICY_RECORD_BYTES} bytes per version`,
    );
  }
  return bytes;
}

/**
 * Reads a record from a message body at `version`; anything that is not one (a message published
 * by hand, a garbled body) is MERIDIAN_ERR_POLICY_INVALID naming the version and the field.
 */
export function decodePolicyRecord(data: Uint8Array | string, version: number): PolicyRecord {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_POLICY_INVALID', `policy version ${version}: not JSON: ${(cause as Error).message}`, { cause });
  }
  const record = value as Partial<Record<keyof PolicyRecord, unknown>> | null;
  const bad = (field: string): never => {
    throw new MeridianError('MERIDIAN_ERR_POLICY_INVALID', `policy version ${version}: /${field} is missing or malformed`);
  };
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return bad('');
  if (typeof record.digest !== 'string') bad('digest');
  if (!Array.isArray(record.sources) || !record.sources.every(isSource)) bad('sources');
  if (typeof record.appliedAt !== 'string') bad('appliedAt');
  const by = record.appliedBy as Partial<AppliedBy> | null | undefined;
  if (typeof by !== 'object' || by === null || typeof by.site !== 'string' || typeof by.who !== 'string') bad('appliedBy');
  if (record.basedOn !== null && !Number.isSafeInteger(record.basedOn)) bad('basedOn');
  if (record.rollbackOf !== undefined && !Number.isSafeInteger(record.rollbackOf)) bad('rollbackOf');
  const checked = record as unknown as PolicyRecord;
  return {
    version,
    digest: checked.digest,
    sources: checked.sources.map((s) => ({ file: s.file, text: s.text })),
    appliedAt: checked.appliedAt,
    appliedBy: { site: checked.appliedBy.site, who: checked.appliedBy.who },
    basedOn: checked.basedOn,
    ...(checked.rollbackOf === undefined ? {} : { rollbackOf: checked.rollbackOf }),
  };
}

function isSource(value: unknown): value is PolicySource {
  const source = value as Partial<PolicySource> | null;
  return typeof source === 'object' && source !== null && typeof source.file === 'string' && typeof source.text === 'string';
}
