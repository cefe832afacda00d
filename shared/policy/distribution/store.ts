import { JetStreamApiError, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestError, type NatsConnection } from '@nats-io/transport-node';
import { MeridianError } from '../../errors/index.js';
import { parsePolicySet } from '../parse.js';
import type { PolicySource } from '../types.js';
import { POLICY_STREAM, POLICY_SUBJECT } from './layout.js';
import { decodePolicyRecord, encodePolicyRecord, type AppliedBy, type PolicyRecord } from './record.js';

const API_TIMEOUT_MS = 5000;
/** JetStream's "wrong last sequence": another version was published since the one this apply read. */
const WRONG_LAST_SEQUENCE = 10071;

/** Which stream a read uses: the origin (default; what apply compares against) or a site's mirror. */
export interface ReadOptions {
  readonly stream?: string;
}

/** Options of {@link applyPolicy}. */
export interface ApplyPolicyOptions {
  readonly sources: readonly PolicySource[];
  readonly trustDomain: string;
  /** Apply only if this is still the latest version (null: only if none was ever published). */
  readonly expectedVersion?: number | null;
  readonly appliedBy: AppliedBy;
  /** Set by {@link rollbackPolicy}. */
  readonly rollbackOf?: number;
}

/** What an apply did: published a new version, or found the same set (same digest) already latest. */
export interface ApplyResult {
  readonly outcome: 'applied' | 'unchanged';
  readonly record: PolicyRecord;
}

/**
 * Publishes a new version of the federation's policy set. The set is parsed first (invalid:
 * MERIDIAN_ERR_POLICY_INVALID with every violation, nothing published); the same set as the
 * latest (same digest) publishes nothing. The publish carries JetStream's expected last sequence
 * = the version read, so of two concurrent applies one wins and the other gets
 * MERIDIAN_ERR_POLICY_CONFLICT naming the version it saw and the one now latest; so does a stale
 * `expectedVersion`. Versions never fork.
 */
export async function applyPolicy(nc: NatsConnection, options: ApplyPolicyOptions): Promise<ApplyResult> {
  const set = parsePolicySet(options.sources, { trustDomain: options.trustDomain });
  const jsm = await manager(nc);
  const latest = await latestOf(jsm, POLICY_STREAM);
  const seen = latest?.version ?? null;
  if (options.expectedVersion !== undefined && options.expectedVersion !== seen) throw conflict(options.expectedVersion, seen);
  if (latest !== null && latest.digest === set.digest && options.rollbackOf === undefined) return { outcome: 'unchanged', record: latest };
  const body = {
    digest: set.digest,
    sources: options.sources.map((s) => ({ file: s.file, text: s.text })),
    appliedAt: new Date().toISOString(),
    appliedBy: options.appliedBy,
    basedOn: seen,
    ...(options.rollbackOf === undefined ? {} : { rollbackOf: options.rollbackOf }),
  };
  const data = encodePolicyRecord(body);
  try {
    const ack = await publishOnce(nc, data, seen ?? 0);
    return { outcome: 'applied', record: { ...body, version: ack.seq } };
  } catch (cause) {
    if (cause instanceof JetStreamApiError && cause.code === WRONG_LAST_SEQUENCE) {
      const now = await latestOf(jsm, POLICY_STREAM).catch(() => null);
      throw conflict(seen, now?.version ?? null, cause);
    }
    if (isNoResponders(cause)) {
      throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `cannot publish the policy set: no stream answers on ${POLICY_SUBJECT} (${POLICY_STREAM} is missing, or the site holding it is unreachable)`, { cause });
    }
    throw unavailable('publish the policy set', cause);
  }
}

/** Re-applies the sources of `version` as a new version (`rollbackOf: version`), by the same rules as {@link applyPolicy}. */
export async function rollbackPolicy(nc: NatsConnection, options: { version: number; trustDomain: string; appliedBy: AppliedBy; expectedVersion?: number | null }): Promise<ApplyResult> {
  const target = await readPolicyVersion(nc, options.version);
  const latest = await readLatestPolicy(nc);
  if (latest !== null && latest.digest === target.digest) return { outcome: 'unchanged', record: latest };
  return applyPolicy(nc, {
    sources: target.sources,
    trustDomain: options.trustDomain,
    appliedBy: options.appliedBy,
    rollbackOf: options.version,
    expectedVersion: options.expectedVersion === undefined ? (latest?.version ?? null) : options.expectedVersion,
  });
}

/** The latest version, or null when no policy set was ever published. */
export async function readLatestPolicy(nc: NatsConnection, options: ReadOptions = {}): Promise<PolicyRecord | null> {
  return latestOf(await manager(nc), options.stream ?? POLICY_STREAM);
}

/** One version; one that was never published or left the history window is MERIDIAN_ERR_NOT_FOUND. */
export async function readPolicyVersion(nc: NatsConnection, version: number, options: ReadOptions = {}): Promise<PolicyRecord> {
  const stream = options.stream ?? POLICY_STREAM;
  if (!Number.isSafeInteger(version) || version < 1) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `policy version ${version}: a version is a positive integer`);
  let message;
  try {
    message = await (await manager(nc)).streams.getMessage(stream, { seq: version });
  } catch (cause) {
    throw unavailable(`read policy version ${version}`, cause);
  }
  if (message === null) throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `policy version ${version}: not in ${stream} (never published, or older than the history kept)`);
  return decodePolicyRecord(message.data, message.seq);
}

/** The newest `limit` versions still kept (default 20), oldest first. */
export async function policyHistory(nc: NatsConnection, options: ReadOptions & { limit?: number } = {}): Promise<PolicyRecord[]> {
  const stream = options.stream ?? POLICY_STREAM;
  const jsm = await manager(nc);
  let state;
  try {
    state = (await jsm.streams.info(stream)).state;
  } catch (cause) {
    throw unavailable(`read the policy history of ${stream}`, cause);
  }
  if (state.messages === 0) return [];
  const first = Math.max(state.first_seq, state.last_seq - (options.limit ?? 20) + 1);
  const records: PolicyRecord[] = [];
  for (let seq = first; seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message !== null) records.push(decodePolicyRecord(message.data, message.seq));
  }
  return records;
}

/**
 * One publish; "no responders" (right after the origin was created, its interest has not crossed
 * the NATS gateways yet: ~1 s) is retried for up to 2 s: it proves nothing was stored, so a retry
 * can never publish twice.
 */
async function publishOnce(nc: NatsConnection, data: Uint8Array, lastSequence: number): Promise<{ seq: number }> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    try {
      // Only the last sequence is expected: nats-server 2.9 mirrors re-check an expected stream name
      // header on each copied message and refuse it (their name differs), so the mirrors would stall.
      return await jetstream(nc, { timeout: API_TIMEOUT_MS }).publish(POLICY_SUBJECT, data, { expect: { lastSequence } });
    } catch (error) {
      if (!isNoResponders(error) || Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

function isNoResponders(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof RequestError && e.isNoResponders()) return true;
  }
  return false;
}

async function latestOf(jsm: JetStreamManager, stream: string): Promise<PolicyRecord | null> {
  let message;
  try {
    message = await jsm.streams.getMessage(stream, { last_by_subj: POLICY_SUBJECT });
  } catch (cause) {
    throw unavailable(`read the latest policy version of ${stream}`, cause);
  }
  return message === null ? null : decodePolicyRecord(message.data, message.seq);
}

async function manager(nc: NatsConnection): Promise<JetStreamManager> {
  return jetstreamManager(nc, { checkAPI: false, timeout: API_TIMEOUT_MS });
}

function conflict(seen: number | null, now: number | null, cause?: unknown): MeridianError {
  const name = (v: number | null): string => (v === null ? 'none' : String(v));
  return new MeridianError(
    'MERIDIAN_ERR_POLICY_CONFLICT',
    `policy conflict: this apply was based on version ${name(seen)}, but the latest version is now ${name(now)}; read it (meridian policy get / diff) and apply again`,
    { ...(cause === undefined ? {} : { cause }), details: { seen, latest: now } },
  );
}

function unavailable(what: string, cause: unknown): MeridianError {
  if (cause instanceof MeridianError) return cause;
  return new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `cannot ${what}: ${(cause as Error).message}`, { cause });
}
