import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
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
 * Replaces a file in one step (a temp file beside it, then rename): a reader polling the file
 * sees the old content or the new one, never a half-written file. The temp file is removed on failure.
 */
export function writeTextAtomic(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text, { mode });
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot write`, { cause });
  }
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
