import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { privateKeyFromPem, privateKeyToPem } from './keys.js';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { TrustBundle, parseCertificates } from './bundle.js';
import type { MtlsIdentity } from './tls.js';

/** Writes a private key readable by its owner only (0600, directory 0700). */
export function writePrivateKey(path: string, key: KeyObject): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, privateKeyToPem(key), { mode: 0o600 });
  // writeFile's mode applies only when it creates the file; an existing file keeps its mode otherwise.
  chmodSync(path, 0o600);
}

export function writeCertificates(path: string, certificates: readonly X509Certificate[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, certificates.map((c) => c.toString()).join(''), { mode: 0o644 });
}

export function writeText(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode });
}

/**
 * Replaces `path` in one step (a temp file beside it, then rename): a process restarting or
 * crashing mid-write finds either the old content or the new one, never half of each.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, text, { mode, flag: 'wx' });
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot write`, { cause });
  }
}

/** Writes a renewed identity's key and chain atomically (0600 both), key first: a chain never names a key that is not on disk. */
export function writeIdentityFiles(files: { keyFile: string; certFile: string }, identity: { privateKey: KeyObject; chain: readonly X509Certificate[] }): void {
  writeFileAtomic(files.keyFile, privateKeyToPem(identity.privateKey));
  writeFileAtomic(files.certFile, identity.chain.map((c) => c.toString()).join(''));
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot read ${what}`, { cause });
  }
}

export function readPrivateKey(path: string): KeyObject {
  return privateKeyFromPem(readText(path, 'private key'), path);
}

export function readCertificates(path: string): X509Certificate[] {
  return parseCertificates(readText(path, 'certificate'), path);
}

/** Refuses to overwrite key material: losing a CA key means re-issuing the whole site. */
export function assertAbsent(path: string): void {
  if (existsSync(path)) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${path} already exists; remove it first or use another --dir`);
  }
}

/** An mTLS identity from its files: key, certificate chain (leaf first) and the trust bundle. */
export function loadMtlsIdentity(files: { keyFile: string; certFile: string; bundleFile: string; trustDomain: string }): MtlsIdentity {
  return {
    privateKey: readPrivateKey(files.keyFile),
    chain: readCertificates(files.certFile),
    bundle: TrustBundle.fromPem(files.trustDomain, readText(files.bundleFile, 'trust bundle'), files.bundleFile),
  };
}
