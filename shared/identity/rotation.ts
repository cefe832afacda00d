import { randomBytes, type X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { DEFAULT_LEAF_TTL_MS, createRootAuthority, issueSiteCa, type RootAuthority } from './authority.js';
import { createCsr } from './csr.js';
import { readCertificates, readPrivateKey, writeCertificates, writePrivateKey, writeFileAtomic } from './files.js';
import { generatePrivateKey, privateKeyToPem } from './keys.js';
import { shortFingerprint, type PkiDirectory } from './pki-directory.js';
import { formatSpiffeId } from './spiffe.js';
import type { KeyAlgorithm } from './types.js';

/*
 * A root rotation in three commands, each safe to re-run (a step a crash cut short is completed):
 *   start   a next root is created beside the root; bundle.pem = root + next; the next root signs site CAs
 *   (renew) every site CA is re-issued under the next root (`renewSiteCa`); leaves follow at their renewal
 *   finish  the next root becomes the root, the old one moves to root/retired-<fingerprint>/; bundle.pem = new root
 */

/** Site CAs are backdated this much (authority.ts): a CA's issue time is its notBefore plus this. */
const SITE_CA_BACKDATE_MS = 60_000;

/** The result of {@link startRootRotation}. */
export interface RotationStarted {
  readonly next: RootAuthority;
  /** True when an interrupted start was completed (the next root existed, the bundle lacked it). */
  readonly resumed: boolean;
}

/** Creates the next root and publishes it beside the current one in bundle.pem. */
export function startRootRotation(pki: PkiDirectory, options: { algorithm?: KeyAlgorithm; now?: Date } = {}): RotationStarted {
  const root = pki.loadRoot();
  const bundle = pki.loadBundle();
  const existing = pki.loadNextRoot();
  if (existing !== undefined) {
    if (bundle.issuerOf(existing.certificate) !== undefined) {
      throw new MeridianError(
        'MERIDIAN_ERR_ROTATION_IN_PROGRESS',
        `a root rotation is already under way in ${pki.dir} (next root ${shortFingerprint(existing.certificate)}): renew each site CA with 'meridian ca site <site> --renew', then run 'meridian ca rotate finish'`,
      );
    }
    pki.writeBundle(bundle.withRoot(existing.certificate).roots);
    return { next: existing, resumed: true };
  }
  const algorithm = options.algorithm ?? (root.privateKey.asymmetricKeyType === 'rsa' ? 'rsa-2048' : 'ec-p256');
  const next = createRootAuthority({ trustDomain: root.trustDomain, algorithm, ...(options.now === undefined ? {} : { now: options.now }) });
  // Written into a temp dir renamed into place: the next root appears whole or not at all.
  const finalDir = dirname(pki.nextRootPaths().cert);
  const temp = join(dirname(finalDir), `.next-${randomBytes(4).toString('hex')}`);
  writePrivateKey(join(temp, 'ca.key'), next.privateKey);
  writeCertificates(join(temp, 'ca.crt'), [next.certificate]);
  renameSync(temp, finalDir);
  pki.writeBundle(bundle.withRoot(next.certificate).roots);
  return { next, resumed: false };
}

/** Options of {@link renewSiteCa}. */
export interface SiteRenewalOptions {
  /** A CSR made at the site (its key stays there); else a key is made here. */
  readonly csr?: string;
  /** Re-issue for the site CA's current key instead of a new one. */
  readonly keepKey?: boolean;
  readonly ttlMs?: number;
  readonly now?: Date;
}

/** The result of {@link renewSiteCa}. */
export interface SiteRenewed {
  readonly certificate: X509Certificate;
  readonly previous: X509Certificate;
  /** Where the previous CA certificate (and key, when it was here) was moved. */
  readonly retiredDir: string;
  readonly signedBy: X509Certificate;
}

/**
 * Re-issues a site CA under the signing root (the next root while a rotation is under way), with a
 * new key unless `keepKey` or a `csr`. The previous CA goes to sites/<site>/retired-<fingerprint>/.
 * The site's NATS passwords derive from its CA key: they are pinned first, so nothing is locked out.
 */
export function renewSiteCa(pki: PkiDirectory, site: string, options: SiteRenewalOptions = {}): SiteRenewed {
  if (options.csr !== undefined && options.keepKey === true) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', '--keep-key cannot be used with --csr: the CSR names the key');
  }
  const previous = pki.loadSiteCertificate(site);
  const root = pki.loadSigningRoot();
  const paths = pki.sitePaths(site);
  const hasKey = existsSync(paths.key);
  if (options.csr === undefined && !hasKey) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${paths.key} is absent (the site's key lives at the site): renew with --csr <request made at the site>`);
  }
  const newKey = options.csr === undefined && options.keepKey !== true ? generatePrivateKey() : undefined;
  const csr = options.csr ?? createCsr({ privateKey: newKey ?? readPrivateKey(paths.key), commonName: `${site} site CA`, uris: [formatSpiffeId(root.trustDomain, site)] });
  const certificate = issueSiteCa(root, { site, csr, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }), ...(options.now === undefined ? {} : { now: options.now }) });
  const retiredDir = join(dirname(paths.cert), `retired-${shortFingerprint(previous)}`);
  writeCertificates(join(retiredDir, 'ca.crt'), [previous]);
  if (newKey !== undefined) {
    pki.pinSiteNatsPasswords(site);
    writePrivateKey(join(retiredDir, 'ca.key'), readPrivateKey(paths.key));
    writeFileAtomic(paths.key, privateKeyToPem(newKey));
  }
  writeFileAtomic(paths.cert, certificate.toString(), { mode: 0o644 });
  if (hasKey) pki.loadSite(site);
  return { certificate, previous, retiredDir, signedBy: root.certificate };
}

/** Options of {@link finishRootRotation}. */
export interface RotationFinishOptions {
  /** Finish although a site CA still chains to the old root or was re-issued too recently. */
  readonly force?: boolean;
  /** The longest leaf lifetime in use: leaves a replaced site CA signed may live this long. Default 24 h. */
  readonly leafTtlMs?: number;
  readonly now?: Date;
}

/** The result of {@link finishRootRotation}. */
export interface RotationFinished {
  readonly root: X509Certificate;
  /** The retired root's directory (absent when an interrupted finish only had the bundle left to write). */
  readonly retiredDir?: string;
  readonly resumed: boolean;
  /** What `force` overrode (empty without it). */
  readonly overridden: readonly string[];
}

/** Makes the next root the root, retires the old one (kept on disk), and leaves only the new root in bundle.pem. */
export function finishRootRotation(pki: PkiDirectory, options: RotationFinishOptions = {}): RotationFinished {
  const rootPaths = pki.rootPaths();
  const nextPaths = pki.nextRootPaths();
  const nextLeft = existsSync(nextPaths.cert) || existsSync(nextPaths.key);
  if (!nextLeft) return resumeBundle(pki);
  let overridden: string[] = [];
  let retiredDir: string | undefined;
  if (existsSync(rootPaths.cert)) {
    const old = pki.loadRoot();
    const next = pki.loadNextRoot();
    if (next === undefined) throw new MeridianError('MERIDIAN_ERR_ROTATION_NOT_STARTED', `${nextPaths.cert} is missing`);
    overridden = rotationBlockers(pki, old.certificate, options.leafTtlMs ?? DEFAULT_LEAF_TTL_MS, options.now ?? new Date());
    if (overridden.length > 0 && options.force !== true) {
      throw new MeridianError('MERIDIAN_ERR_ROTATION_INCOMPLETE', `cannot finish the root rotation: ${overridden.join('; ')} (or pass --force)`);
    }
    retiredDir = join(dirname(rootPaths.cert), `retired-${shortFingerprint(old.certificate)}`);
    mkdirSync(retiredDir, { recursive: true, mode: 0o700 });
    renameSync(rootPaths.key, join(retiredDir, 'ca.key'));
    renameSync(rootPaths.cert, join(retiredDir, 'ca.crt'));
  }
  if (existsSync(nextPaths.key)) renameSync(nextPaths.key, rootPaths.key);
  if (existsSync(nextPaths.cert)) renameSync(nextPaths.cert, rootPaths.cert);
  rmSync(dirname(nextPaths.cert), { recursive: true, force: true });
  const root = pki.loadRoot().certificate;
  pki.writeBundle([root]);
  return { root, ...(retiredDir === undefined ? {} : { retiredDir }), resumed: retiredDir === undefined, overridden: options.force === true ? overridden : [] };
}

/** No next root left: either a finish was cut short before it rewrote the bundle, or no rotation was started. */
function resumeBundle(pki: PkiDirectory): RotationFinished {
  const root = pki.loadRoot().certificate;
  const bundle = pki.loadBundle();
  const others = bundle.roots.filter((r) => r.fingerprint256 !== root.fingerprint256);
  const retired = others.filter((r) => existsSync(join(dirname(pki.rootPaths().cert), `retired-${shortFingerprint(r)}`, 'ca.crt')));
  if (others.length === 0 || retired.length !== others.length) {
    throw new MeridianError('MERIDIAN_ERR_ROTATION_NOT_STARTED', `no root rotation is under way in ${pki.dir}: run 'meridian ca rotate start' first`);
  }
  pki.writeBundle([root]);
  return { root, resumed: true, overridden: [] };
}

/** Why finishing now would cut off certificates still in use: site CAs under the old root, and leaves of just-replaced site CAs. */
function rotationBlockers(pki: PkiDirectory, oldRoot: X509Certificate, leafTtlMs: number, now: Date): string[] {
  const underOld = pki.sites().filter((site) => issuedBy(pki.loadSiteCertificate(site), oldRoot));
  const blockers = underOld.length === 0 ? [] : [`site CAs still chain to the root being retired (${shortFingerprint(oldRoot)}): ${underOld.join(', ')}: run 'meridian ca site <site> --renew' for each`];
  for (const site of pki.sites()) {
    if (underOld.includes(site) || !replacedUnder(pki, site, oldRoot)) continue;
    const safeAt = new Date(new Date(pki.loadSiteCertificate(site).validFrom).getTime() + SITE_CA_BACKDATE_MS + leafTtlMs);
    if (safeAt > now) blockers.push(`site ${site}: leaves its previous CA signed may be valid until ${safeAt.toISOString()} (leaf lifetime ${formatMs(leafTtlMs)}): finish after that`);
  }
  return blockers;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function issuedBy(certificate: X509Certificate, root: X509Certificate): boolean {
  return certificate.checkIssued(root) && certificate.verify(root.publicKey);
}

/** True when the site has a retired CA signed by `root`: its leaves may still be out there. */
function replacedUnder(pki: PkiDirectory, site: string, root: X509Certificate): boolean {
  const siteDir = dirname(pki.sitePaths(site).cert);
  return readdirSync(siteDir).some((name) => {
    const cert = join(siteDir, name, 'ca.crt');
    return name.startsWith('retired-') && existsSync(cert) && readCertificates(cert).some((c) => issuedBy(c, root));
  });
}

/** One root of bundle.pem as `meridian ca status` shows it. */
export interface RootStatus {
  readonly fingerprint: string;
  readonly expires: string;
  /** `signing`: signs site CAs now; `retiring`: the root a rotation under way replaces; `trusted`: in the bundle only. */
  readonly role: 'signing' | 'retiring' | 'trusted';
}

/** One site CA of the PKI directory. */
export interface SiteCaStatus {
  readonly site: string;
  readonly fingerprint: string;
  readonly expires: string;
  /** The bundle root that signed it; absent: none of the bundle's roots (it is no longer trusted). */
  readonly root?: string;
  /** Whether it chains to the root that signs now (a site to renew during a rotation when false). */
  readonly underSigningRoot: boolean;
}

/** What `meridian ca status` reports. */
export interface PkiStatus {
  readonly trustDomain: string;
  readonly rotating: boolean;
  readonly bundleVersion: number;
  readonly roots: readonly RootStatus[];
  readonly sites: readonly SiteCaStatus[];
}

/** The roots of bundle.pem, which one signs, and each site CA's root and expiry. */
export function pkiStatus(pki: PkiDirectory): PkiStatus {
  const bundle = pki.loadBundle();
  const signing = pki.loadSigningRoot().certificate;
  const rotating = pki.rotating();
  const roots = bundle.roots.map((root): RootStatus => ({
    fingerprint: shortFingerprint(root),
    expires: new Date(root.validTo).toISOString(),
    role: root.fingerprint256 === signing.fingerprint256 ? 'signing' : rotating ? 'retiring' : 'trusted',
  }));
  const sites = pki.sites().map((site): SiteCaStatus => {
    const ca = pki.loadSiteCertificate(site);
    const root = bundle.issuerOf(ca);
    return {
      site,
      fingerprint: shortFingerprint(ca),
      expires: new Date(ca.validTo).toISOString(),
      ...(root === undefined ? {} : { root: shortFingerprint(root) }),
      underSigningRoot: issuedBy(ca, signing),
    };
  });
  return { trustDomain: pki.trustDomain(), rotating, bundleVersion: pki.bundleVersion(), roots, sites };
}
