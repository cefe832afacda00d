import { chmodSync, chownSync, closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPublicKey, randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { privateKeyFromPem, privateKeyToPem } from './keys.js';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { TrustBundle, chainToPem, parseCertificates } from './bundle.js';
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
  writeFileSync(path, chainToPem(certificates), { mode: 0o644 });
}

export function writeText(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode });
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** The file's mode, whatever the umask. Default 0600. */
  readonly mode?: number;
  /** Mode of the directories it creates. Default 0700. */
  readonly dirMode?: number;
  /**
   * When run as root, give the file the owner of its directory: `meridian agent join` runs as
   * root and the agent's service user must read what it wrote.
   */
  readonly ownerFromDirectory?: boolean;
}

/**
 * Replaces `path` in one step (a temp file beside it, fsynced, then renamed over it): a process
 * restarting or crashing mid-write, or a reader racing the writer, finds either the old content
 * or the new one, never half of each. Errors are MERIDIAN_ERR_FILE_IO naming the path.
 */
export function writeFileAtomic(path: string, text: string, options: AtomicWriteOptions = {}): void {
  const mode = options.mode ?? 0o600;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true, mode: options.dirMode ?? 0o700 });
    const fd = openSync(temp, 'wx', mode);
    try {
      // open's mode passes through the umask; the file must end up with exactly `mode`.
      fchmodSync(fd, mode);
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (options.ownerFromDirectory === true && process.getuid?.() === 0) {
      const owner = statSync(dir);
      chownSync(temp, owner.uid, owner.gid);
    }
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot write: ${(cause as Error).message}`, { cause });
  }
}

/** Where a renewed chain waits while its key replaces the old one (see {@link writeIdentityFiles}). */
const pendingChainPath = (certFile: string): string => `${certFile}.next`;

/**
 * Writes a renewed identity's key and chain (0600 both). Two files cannot be replaced in one step,
 * so the chain goes to `<certFile>.next` first, then the key replaces the old one, then the chain
 * moves into place: a crash in between leaves the new key beside `<certFile>.next`, which
 * {@link loadMtlsIdentity} completes, instead of a key and a certificate that do not match.
 */
export function writeIdentityFiles(files: { keyFile: string; certFile: string }, identity: { privateKey: KeyObject; chain: readonly X509Certificate[] }): void {
  const pending = pendingChainPath(files.certFile);
  writeFileAtomic(pending, chainToPem(identity.chain));
  writeFileAtomic(files.keyFile, privateKeyToPem(identity.privateKey));
  try {
    renameSync(pending, files.certFile);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${files.certFile}: cannot write: ${(cause as Error).message}`, { cause });
  }
}

function publicKeyMatches(privateKey: KeyObject, certificate: X509Certificate | undefined): boolean {
  if (certificate === undefined) return false;
  const spki = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });
  return spki(createPublicKey(privateKey)).equals(spki(certificate.publicKey));
}

/**
 * The chain of `keyFile`'s key: `certFile`, or the renewed chain a crash left in `<certFile>.next`
 * (moved into place now). A key without its certificate fails with both files named.
 */
function chainOfKey(privateKey: KeyObject, files: { keyFile: string; certFile: string }): X509Certificate[] {
  const chain = readCertificates(files.certFile);
  if (publicKeyMatches(privateKey, chain[0])) return chain;
  const pending = pendingChainPath(files.certFile);
  if (existsSync(pending)) {
    const renewed = readCertificates(pending);
    if (publicKeyMatches(privateKey, renewed[0])) {
      writeIdentityFiles(files, { privateKey, chain: renewed });
      return renewed;
    }
  }
  throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${files.certFile}: its certificate is not for the key in ${files.keyFile}`, { details: { field: files.certFile } });
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
  const privateKey = readPrivateKey(files.keyFile);
  return {
    privateKey,
    chain: chainOfKey(privateKey, files),
    bundle: TrustBundle.fromPem(files.trustDomain, readText(files.bundleFile, 'trust bundle'), files.bundleFile),
  };
}
