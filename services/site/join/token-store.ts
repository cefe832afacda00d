import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { X509Certificate } from 'node:crypto';
import { ensureKvBucket, joinBucketName } from '../../../shared/catalog/index.js';
import { MeridianError } from '../../../shared/errors/index.js';
import {
  DEFAULT_JOIN_TOKEN_TTL_MS,
  MAX_JOIN_TOKEN_TTL_MS,
  assertName,
  formatJoinToken,
  hashTokenSecret,
  newJoinToken,
  tokenSecretMatches,
  type JoinToken,
} from '../../../shared/identity/index.js';

/** What the bucket keeps of a token: never its secret, only the secret's SHA-256. */
export interface TokenRecord {
  readonly id: string;
  readonly site: string;
  /** The only node that may join with it; absent: any node name. */
  readonly node?: string;
  readonly secretHash: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** Set, atomically, by the one join that used it. */
  readonly usedAt?: string;
  readonly usedBy?: string;
}

/** Used and expired records leave the bucket on their own a little after the longest lifetime. */
const RECORD_MAX_AGE_MS = MAX_JOIN_TOKEN_TTL_MS + 3_600_000;

/** Creates (or opens) a site's join-token bucket: at bootstrap, and by the bucket keeper. */
export async function ensureJoinBucket(nc: NatsConnection, site: string, options: { deadlineMs?: number } = {}): Promise<KV> {
  return ensureKvBucket(nc, { bucket: joinBucketName(site), site, description: `Meridian join tokens of site ${site} (hashed)`, maxAgeMs: RECORD_MAX_AGE_MS, ...options });
}

/** Options of {@link createJoinToken}. */
export interface CreateTokenOptions {
  readonly site: string;
  readonly siteCa: X509Certificate;
  readonly ttlMs?: number;
  readonly node?: string;
  readonly now?: Date;
}

/** Stores a new token's record and returns the token's text (the only place its secret appears). */
export async function createJoinToken(kv: KV, options: CreateTokenOptions): Promise<{ text: string; record: TokenRecord }> {
  const ttlMs = options.ttlMs ?? DEFAULT_JOIN_TOKEN_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_JOIN_TOKEN_TTL_MS) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--ttl: a join token lives at most 24h (got ${ttlMs} ms); make a new one when it expires`);
  }
  if (options.node !== undefined) assertName('--node', options.node);
  const token = newJoinToken(options.site, options.siteCa);
  const now = options.now ?? new Date();
  const record: TokenRecord = {
    id: token.id,
    site: token.site,
    ...(options.node === undefined ? {} : { node: options.node }),
    secretHash: hashTokenSecret(token.secret),
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
  };
  // create(): fails rather than overwrite, should two ids ever collide.
  await kv.create(token.id, JSON.stringify(record));
  return { text: formatJoinToken(token), record };
}

/**
 * Uses a token once. The record is marked used with the revision it was read at, so of two joins
 * racing with one token exactly one wins; the other gets MERIDIAN_ERR_JOIN_TOKEN_USED. A wrong
 * secret does not burn the token (the id alone, which logs show, must not let anyone spoil it).
 */
export async function consumeJoinToken(kv: KV, token: JoinToken, request: { node: string; now?: Date }): Promise<TokenRecord> {
  const entry = await kv.get(token.id);
  if (entry === null || entry.operation !== 'PUT') throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_INVALID', `token ${token.id}: unknown or revoked`);
  const record = entry.json<TokenRecord>();
  if (!tokenSecretMatches(token.secret, record.secretHash) || record.site !== token.site) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_INVALID', `token ${token.id}: the secret does not match`);
  }
  if (record.usedAt !== undefined) throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_USED', `token ${token.id}: already used at ${record.usedAt}; create a new one`);
  const now = request.now ?? new Date();
  if (now.getTime() >= Date.parse(record.expiresAt)) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_EXPIRED', `token ${token.id}: expired at ${record.expiresAt}; create a new one`);
  }
  if (record.node !== undefined && record.node !== request.node) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_NODE_MISMATCH', `token ${token.id}: made for node ${record.node}, not ${request.node}`);
  }
  const used: TokenRecord = { ...record, usedAt: now.toISOString(), usedBy: request.node };
  try {
    await kv.update(token.id, JSON.stringify(used), entry.revision);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_USED', `token ${token.id}: used by a concurrent join`, { cause });
  }
  return used;
}

/** Every token record of the site (none holds a secret). */
export async function listJoinTokens(kv: KV): Promise<TokenRecord[]> {
  const records: TokenRecord[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT') records.push(entry.json<TokenRecord>());
  }
  return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Revokes a token by its id (the second field of the token); unknown ids are an error. */
export async function revokeJoinToken(kv: KV, id: string): Promise<void> {
  if (!/^[A-Za-z0-9_-]{16}$/.test(id)) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `token id ${JSON.stringify(id)}: not a token id (16 characters, as 'meridian token list' shows)`);
  const entry = await kv.get(id);
  if (entry === null || entry.operation !== 'PUT') throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `token ${id}: no such token`);
  await kv.delete(id);
}
