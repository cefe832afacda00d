import type { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { SiteAuthority, createRootAuthority, issueSiteCa, type IssuedCertificate, type RootAuthority } from './authority.js';
import { TrustBundle, chainToPem } from './bundle.js';
import { assertAbsent, readCertificates, readPrivateKey, readText, writeCertificates, writePrivateKey, writeText, writeFileAtomic } from './files.js';
import { createSiteAuthority, issueLocalIdentity } from './issue-local.js';
import { deriveSiteNatsPassword, type SiteNatsPasswords } from './nats-password.js';
import { assertName, assertTrustDomain } from './spiffe.js';
import type { MtlsIdentity } from './tls.js';
import type { IdentityKind, KeyAlgorithm, KeyedCertificate } from './types.js';

/** Key and certificate files of a CA. */
export interface CaPaths {
  readonly key: string;
  readonly cert: string;
}

/** The first 16 hex digits of a certificate's SHA-256 fingerprint: how roots and CAs are named on disk and in output. */
export function shortFingerprint(certificate: X509Certificate): string {
  return certificate.fingerprint256.replace(/:/g, '').toLowerCase().slice(0, 16);
}

/**
 * The on-disk layout `meridian ca` manages:
 *   trust-domain.json, bundle.pem, bundle-version,
 *   root/ca.key (0600), root/ca.crt            the root (signs site CAs unless a rotation is under way)
 *   root/next/ca.{key,crt}                     the next root, while a rotation is under way (it signs then)
 *   root/retired-<fingerprint>/ca.{key,crt}    roots a finished rotation retired (kept, never deleted)
 *   sites/<site>/ca.key (0600), sites/<site>/ca.crt, sites/<site>/retired-<fingerprint>/ (renewed site CAs)
 *   sites/<site>/nats-passwords.json (0600)    the site's NATS passwords, pinned when its CA is re-keyed
 *   sites/<site>/<kind>/<name>.{key,crt}
 */
export class PkiDirectory {
  constructor(readonly dir: string) {}

  get bundlePath(): string {
    return join(this.dir, 'bundle.pem');
  }

  get bundleVersionPath(): string {
    return join(this.dir, 'bundle-version');
  }

  rootPaths(): CaPaths {
    return { key: join(this.dir, 'root', 'ca.key'), cert: join(this.dir, 'root', 'ca.crt') };
  }

  nextRootPaths(): CaPaths {
    return { key: join(this.dir, 'root', 'next', 'ca.key'), cert: join(this.dir, 'root', 'next', 'ca.crt') };
  }

  sitePaths(site: string): CaPaths {
    assertName('site', site);
    return { key: join(this.dir, 'sites', site, 'ca.key'), cert: join(this.dir, 'sites', site, 'ca.crt') };
  }

  identityPaths(site: string, kind: IdentityKind, name: string): CaPaths {
    const base = join(this.dir, 'sites', site, kind, name);
    return { key: `${base}.key`, cert: `${base}.crt` };
  }

  initRoot(options: { trustDomain: string; algorithm?: KeyAlgorithm }): RootAuthority {
    assertTrustDomain(options.trustDomain);
    assertAbsent(this.rootPaths().key);
    const root = createRootAuthority(options);
    writePrivateKey(this.rootPaths().key, root.privateKey);
    writeCertificates(this.rootPaths().cert, [root.certificate]);
    this.writeBundle([root.certificate]);
    writeText(join(this.dir, 'trust-domain.json'), `${JSON.stringify({ trustDomain: root.trustDomain }, null, 2)}\n`);
    return root;
  }

  trustDomain(): string {
    const path = join(this.dir, 'trust-domain.json');
    const parsed = JSON.parse(readText(path, "trust domain (run 'meridian ca init' first)")) as { trustDomain?: unknown };
    if (typeof parsed.trustDomain !== 'string') throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: /trustDomain must be a string`);
    return parsed.trustDomain;
  }

  loadRoot(): RootAuthority {
    return this.#loadCa(this.rootPaths(), 'root/ca.crt');
  }

  /** True while a root rotation is under way (`meridian ca rotate start` ran, `finish` not yet). */
  rotating(): boolean {
    return existsSync(this.nextRootPaths().cert);
  }

  loadNextRoot(): RootAuthority | undefined {
    return this.rotating() ? this.#loadCa(this.nextRootPaths(), 'root/next/ca.crt') : undefined;
  }

  /** The root that signs site CAs now: the next root once a rotation started, else the root. */
  loadSigningRoot(): RootAuthority {
    return this.loadNextRoot() ?? this.loadRoot();
  }

  #loadCa(paths: CaPaths, name: string): RootAuthority {
    const [certificate] = readCertificates(paths.cert);
    const privateKey = readPrivateKey(paths.key);
    if (certificate === undefined) throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${name} is empty`);
    return { trustDomain: this.trustDomain(), privateKey, certificate, chain: [certificate] };
  }

  loadBundle(): TrustBundle {
    return TrustBundle.fromPem(this.trustDomain(), readText(this.bundlePath, 'trust bundle'), this.bundlePath);
  }

  /** Replaces bundle.pem in one step (control services poll it) and counts the change in bundle-version. */
  writeBundle(roots: readonly X509Certificate[]): void {
    writeFileAtomic(this.bundlePath, chainToPem(roots), { mode: 0o644 });
    writeFileAtomic(this.bundleVersionPath, `${this.bundleVersion() + 1}\n`, { mode: 0o644 });
  }

  /** How many times `meridian ca` wrote bundle.pem (0 when unknown): a floor for the published document's version. */
  bundleVersion(): number {
    if (!existsSync(this.bundleVersionPath)) return 0;
    const value = Number(readFileSync(this.bundleVersionPath, 'utf8').trim());
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  }

  /** Creates a site CA whose key is generated here (the CA host) and stored 0600. */
  createSite(site: string): SiteAuthority {
    const paths = this.sitePaths(site);
    assertAbsent(paths.key);
    const { authority, privateKey } = createSiteAuthority(this.loadSigningRoot(), site, { bundle: this.loadBundle() });
    writePrivateKey(paths.key, privateKey);
    writeCertificates(paths.cert, [authority.certificate]);
    return authority;
  }

  /** Signs a site CA CSR made elsewhere: the site's key never comes here. */
  signSiteCsr(site: string, csr: string): void {
    writeCertificates(this.sitePaths(site).cert, [issueSiteCa(this.loadSigningRoot(), { site, csr })]);
  }

  loadSiteCertificate(site: string): X509Certificate {
    if (!existsSync(this.sitePaths(site).cert)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `site ${site} has no CA in ${this.dir}: run 'meridian ca site ${site}' first`);
    }
    const [certificate] = readCertificates(this.sitePaths(site).cert);
    if (certificate === undefined) throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${this.sitePaths(site).cert} is empty`);
    return certificate;
  }

  loadSite(site: string): SiteAuthority {
    const certificate = this.loadSiteCertificate(site);
    return new SiteAuthority({ privateKey: readPrivateKey(this.sitePaths(site).key), certificate, bundle: this.loadBundle() });
  }

  /** Every site with a CA certificate here, sorted. */
  sites(): string[] {
    const root = join(this.dir, 'sites');
    if (!existsSync(root)) return [];
    return listDirectories(root).filter((site) => existsSync(join(root, site, 'ca.crt'))).sort();
  }

  /** Where the site's NATS passwords are pinned once its CA key is replaced. */
  siteNatsPasswordsPath(site: string): string {
    assertName('site', site);
    return join(this.dir, 'sites', site, 'nats-passwords.json');
  }

  /**
   * The site's NATS passwords: pinned ones when the site CA was re-keyed, else derived from the
   * site CA key. The nats-server config and every agent keep working across a site CA renewal.
   */
  siteNatsPasswords(site: string): SiteNatsPasswords {
    const pinned = this.siteNatsPasswordsPath(site);
    if (existsSync(pinned)) {
      const parsed = JSON.parse(readText(pinned, 'NATS passwords')) as Partial<SiteNatsPasswords>;
      if (typeof parsed.agent !== 'string' || typeof parsed.control !== 'string') {
        throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${pinned}: /agent and /control must be strings`);
      }
      return { agent: parsed.agent, control: parsed.control };
    }
    const key = readPrivateKey(this.sitePaths(site).key);
    const trustDomain = this.trustDomain();
    return { agent: deriveSiteNatsPassword(key, trustDomain, site, 'agent'), control: deriveSiteNatsPassword(key, trustDomain, site, 'control') };
  }

  /** Writes the passwords the current site CA key yields (0600) unless already pinned: run before re-keying. */
  pinSiteNatsPasswords(site: string): void {
    if (existsSync(this.siteNatsPasswordsPath(site)) || !existsSync(this.sitePaths(site).key)) return;
    writeFileAtomic(this.siteNatsPasswordsPath(site), `${JSON.stringify(this.siteNatsPasswords(site), null, 2)}\n`);
  }

  /** Issues a leaf from a CSR with the site's CA; returns the chain to hand back. */
  signLeafCsr(site: string, csr: string, ttlMs?: number): IssuedCertificate {
    return this.loadSite(site).issue(ttlMs === undefined ? { csr } : { csr, ttlMs });
  }

  /** Generates a key here and issues its certificate: for identities of the CA host itself. */
  issueIdentity(site: string, kind: IdentityKind, name: string, ttlMs?: number): IssuedCertificate & KeyedCertificate & { keyPath: string; certPath: string } {
    const paths = this.identityPaths(site, kind, name);
    const issued = issueLocalIdentity(this.loadSite(site), kind, name, ttlMs === undefined ? {} : { ttlMs });
    writePrivateKey(paths.key, issued.privateKey);
    writeCertificates(paths.cert, issued.chain);
    return { ...issued, keyPath: paths.key, certPath: paths.cert };
  }

  /** {@link issueIdentity}, as the mTLS identity a process of this host presents (with the current bundle). */
  issueMtlsIdentity(site: string, kind: IdentityKind, name: string, ttlMs?: number): MtlsIdentity {
    const issued = this.issueIdentity(site, kind, name, ttlMs);
    return { privateKey: issued.privateKey, chain: issued.chain, bundle: this.loadBundle() };
  }
}

function listDirectories(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
}
