import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { MeridianError } from '../errors/index.js';
import { OID } from './der.js';
import type { KeyAlgorithm } from './types.js';

/** Generates a private key where it will be used; it never leaves this process unencrypted except to a 0600 file. */
export function generatePrivateKey(algorithm: KeyAlgorithm = 'ec-p256'): KeyObject {
  return algorithm === 'ec-p256'
    ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
    : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function privateKeyFromPem(pem: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${source}: not a PEM private key`, { cause });
  }
}

export function spkiDer(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
}

/** RFC 5280 method 1 key identifier: SHA-1 over the SubjectPublicKeyInfo (we hash the whole SPKI). */
export function keyIdentifier(key: KeyObject): Buffer {
  return createHash('sha1').update(spkiDer(key)).digest();
}

/** The signature algorithm OID and whether its AlgorithmIdentifier carries NULL parameters. */
export function signatureAlgorithm(key: KeyObject): { oid: string; nullParams: boolean } {
  if (key.asymmetricKeyType === 'ec') return { oid: OID.ecdsaWithSha256, nullParams: false };
  if (key.asymmetricKeyType === 'rsa') return { oid: OID.sha256WithRsa, nullParams: true };
  throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `unsupported key type ${String(key.asymmetricKeyType)}: use ec-p256 or rsa-2048`);
}

/** Accepts only the key types Meridian issues for: P-256 and RSA of at least 2048 bits. */
export function assertAcceptedPublicKey(key: KeyObject, field: string): void {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return;
  throw new MeridianError(
    'MERIDIAN_ERR_CSR_INVALID',
    `${field}: key must be ECDSA P-256 or RSA of at least 2048 bits (got ${String(key.asymmetricKeyType)} ${details?.namedCurve ?? details?.modulusLength ?? ''})`,
  );
}
