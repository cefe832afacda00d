import { createHash, randomBytes, timingSafeEqual, type X509Certificate } from 'node:crypto';
import { MeridianError } from '../errors/index.js';
import { spkiDer } from './keys.js';
import { assertName } from './spiffe.js';

/** Version prefix of join tokens: `mjt1.<site>.<id>.<secret>.<caHash>`. */
export const JOIN_TOKEN_PREFIX = 'mjt1';
/** Default and longest lifetime of a join token (kubeadm's default is 24 h; ours is short by default). */
export const DEFAULT_JOIN_TOKEN_TTL_MS = 15 * 60_000;
export const MAX_JOIN_TOKEN_TTL_MS = 24 * 3_600_000;

const B64URL = /^[A-Za-z0-9_-]+$/;
const ID_BYTES = 12;
const SECRET_BYTES = 32;
const HASH_LENGTH = 43;

/**
 * A join token: the site it joins, a public id (logged, the key of its record), a secret (only its
 * SHA-256 is stored) and the SHA-256 of the site CA's SubjectPublicKeyInfo, with which the node
 * authenticates the control service before sending anything (kubeadm's discovery hash).
 */
export interface JoinToken {
  readonly site: string;
  readonly id: string;
  readonly secret: string;
  readonly caHash: string;
}

/** base64url SHA-256 of a certificate's SubjectPublicKeyInfo (DER). */
export function caSpkiHash(certificate: X509Certificate): string {
  return createHash('sha256').update(spkiDer(certificate.publicKey)).digest('base64url');
}

/** What the token store keeps instead of the secret. */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Compares a presented secret with a stored hash in constant time. */
export function tokenSecretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashTokenSecret(secret));
  const stored = Buffer.from(storedHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** A fresh token for `site` whose control service holds `siteCa`. */
export function newJoinToken(site: string, siteCa: X509Certificate): JoinToken {
  assertName('site', site);
  return { site, id: randomBytes(ID_BYTES).toString('base64url'), secret: randomBytes(SECRET_BYTES).toString('base64url'), caHash: caSpkiHash(siteCa) };
}

export function formatJoinToken(token: JoinToken): string {
  return [JOIN_TOKEN_PREFIX, token.site, token.id, token.secret, token.caHash].join('.');
}

/** Parses a token's text strictly; the error never repeats the text (it holds a secret). */
export function parseJoinToken(text: string): JoinToken {
  const parts = text.trim().split('.');
  const invalid = (reason: string): MeridianError =>
    new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_INVALID', `token: ${reason} (expected ${JOIN_TOKEN_PREFIX}.<site>.<id>.<secret>.<ca hash>, as 'meridian token create' prints it)`);
  if (parts.length !== 5 || parts[0] !== JOIN_TOKEN_PREFIX) throw invalid('not a Meridian join token');
  const [, site = '', id = '', secret = '', caHash = ''] = parts;
  try {
    assertName('site', site);
  } catch {
    throw invalid('malformed site');
  }
  if (!B64URL.test(id) || id.length !== 16) throw invalid('malformed id');
  if (!B64URL.test(secret) || secret.length !== 43) throw invalid('malformed secret');
  if (!B64URL.test(caHash) || caHash.length !== HASH_LENGTH) throw invalid('malformed CA hash');
  return { site, id, secret, caHash };
}
