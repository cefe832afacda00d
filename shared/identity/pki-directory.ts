import type { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { SiteAuthority, createRootAuthority, issueSiteCa, type IssuedCertificate, type RootAuthority } from './authority.js';
import { TrustBundle } from './bundle.js';
import { assertAbsent, readCertificates, readPrivateKey, readText, writeCertificates, writePrivateKey, writeText } from './files.js';
import { createSiteAuthority, issueLocalIdentity } from './issue-local.js';
import { assertName, assertTrustDomain } from './spiffe.js';
import type { IdentityKind, KeyAlgorithm } from './types.js';

/**
 * The on-disk layout `meridian ca` manages:
 *   trust-domain.json, bundle.pem, root/ca.key (0600), root/ca.crt,
 *   sites/<site>/ca.key (0600), sites/<site>/ca.crt, sites/<site>/<kind>/<name>.{key,crt}
 */
export class PkiDirectory {
  constructor(readonly dir: string) {}

  get bundlePath(): string {
    return join(this.dir, 'bundle.pem');
  }

  sitePaths(site: string): { key: string; cert: string } {
    assertName('site', site);
    return { key: join(this.dir, 'sites', site, 'ca.key'), cert: join(this.dir, 'sites', site, 'ca.crt') };
  }

  identityPaths(site: string, kind: IdentityKind, name: string): { key: string; cert: string } {
    const base = join(this.dir, 'sites', site, kind, name);
    return { key: `${base}.key`, cert: `${base}.crt` };
  }

  initRoot(options: { trustDomain: string; algorithm?: KeyAlgorithm }): RootAuthority {
    assertTrustDomain(options.trustDomain);
    assertAbsent(join(this.dir, 'root', 'ca.key'));
    const root = createRootAuthority(options);
    writePrivateKey(join(this.dir, 'root', 'ca.key'), root.privateKey);
    writeCertificates(join(this.dir, 'root', 'ca.crt'), [root.certificate]);
    writeCertificates(this.bundlePath, [root.certificate]);
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
    const [certificate] = readCertificates(join(this.dir, 'root', 'ca.crt'));
    const privateKey = readPrivateKey(join(this.dir, 'root', 'ca.key'));
    if (certificate === undefined) throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', 'root/ca.crt is empty');
    return { trustDomain: this.trustDomain(), privateKey, certificate, chain: [certificate] };
  }

  loadBundle(): TrustBundle {
    return TrustBundle.fromPem(this.trustDomain(), readText(this.bundlePath, 'trust bundle'), this.bundlePath);
  }

  /** Creates a site CA whose key is generated here (the CA host) and stored 0600. */
  createSite(site: string): SiteAuthority {
    const paths = this.sitePaths(site);
    assertAbsent(paths.key);
    const { authority, privateKey } = createSiteAuthority(this.loadRoot(), site, { bundle: this.loadBundle() });
    writePrivateKey(paths.key, privateKey);
    writeCertificates(paths.cert, [authority.certificate]);
    return authority;
  }

  /** Signs a site CA CSR made elsewhere: the site's key never comes here. */
  signSiteCsr(site: string, csr: string): void {
    writeCertificates(this.sitePaths(site).cert, [issueSiteCa(this.loadRoot(), { site, csr })]);
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

  /** Issues a leaf from a CSR with the site's CA; returns the chain to hand back. */
  signLeafCsr(site: string, csr: string, ttlMs?: number): IssuedCertificate {
    return this.loadSite(site).issue(ttlMs === undefined ? { csr } : { csr, ttlMs });
  }

  /** Generates a key here and issues its certificate: for identities of the CA host itself. */
  issueIdentity(site: string, kind: IdentityKind, name: string, ttlMs?: number): IssuedCertificate & { keyPath: string; certPath: string } {
    const paths = this.identityPaths(site, kind, name);
    const issued = issueLocalIdentity(this.loadSite(site), kind, name, ttlMs === undefined ? {} : { ttlMs });
    writePrivateKey(paths.key, issued.privateKey);
    writeCertificates(paths.cert, issued.chain);
    return { ...issued, keyPath: paths.key, certPath: paths.cert };
  }
}
