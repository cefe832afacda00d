import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import {
  buildCertificate,
  createRootAuthority,
  createSiteAuthority,
  generatePrivateKey,
  issueLocalIdentity,
  TrustBundle,
  writeCertificates,
  writePrivateKey,
  type IdentityKind,
  type KeyedCertificate,
  type MtlsIdentity,
  type RootAuthority,
  type SiteAuthority,
} from '../../../shared/identity/index.js';

/** The trust domain every test fixture uses unless a test needs a second one. */
export const TRUST_DOMAIN = 'acme.internal';

/** A credential as an endpoint holds it in memory: key, chain (leaf first), the bundle it trusts, and its leaf's facts. */
export interface TestIdentity extends MtlsIdentity, KeyedCertificate {
  /** The leaf's SPIFFE ID. */
  readonly uri: string;
  /** The leaf's serial number, to tell a renewed certificate from the one before. */
  readonly serial: string;
}

/** Paths of an identity written to disk, as processes and launchers read it. */
export interface IdentityFiles {
  readonly keyFile: string;
  readonly certFile: string;
  /** The trust bundle (the root certificates). */
  readonly caFile: string;
}

/** What a forged leaf carries: anything, since forging bypasses the issuance policy. */
export interface ForgedLeafOptions {
  readonly uris: readonly string[];
  /** Extended key usages; `'none'` omits the extension. Default client and server. */
  readonly usages?: readonly string[] | 'none';
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

interface Site {
  readonly authority: SiteAuthority;
  readonly privateKey: KeyObject;
}

/**
 * The one PKI builder of the tests: a trust domain built in memory at test time (a root, then
 * one site CA per site on first use), issuing identities through the same CSR path as
 * production. Certificates are never committed; every test file builds its own.
 */
export class TestTrustDomain {
  readonly name: string;
  readonly root: RootAuthority;
  /** The roots every identity of this trust domain trusts. */
  readonly bundle: TrustBundle;
  readonly #sites = new Map<string, Site>();

  constructor(name: string = TRUST_DOMAIN) {
    this.name = name;
    this.root = createRootAuthority({ trustDomain: name });
    this.bundle = new TrustBundle(name, [this.root.certificate]);
  }

  /** The site's CA, created on first use. */
  site(name: string): SiteAuthority {
    return this.#site(name).authority;
  }

  /** A fresh credential (new key, new serial) issued now by `site`'s CA. */
  identity(site: string, kind: IdentityKind, name: string, options: { ttlMs?: number } = {}): TestIdentity {
    const authority = this.site(site);
    const issued = issueLocalIdentity(authority, kind, name, options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs });
    return {
      privateKey: issued.privateKey,
      certificate: issued.certificate,
      chain: issued.chain,
      bundle: authority.bundle,
      uri: issued.identity.uri,
      serial: issued.certificate.serialNumber,
    };
  }

  /**
   * A credential of a trust domain with the same name but another root, trusting this domain's
   * bundle: what an intruder could mint, and what every endpoint must refuse.
   */
  foreignIdentity(site: string, kind: IdentityKind, name: string): TestIdentity {
    return { ...new TestTrustDomain(this.name).identity(site, kind, name), bundle: this.bundle };
  }

  /**
   * Forges a leaf with the site CA's key, bypassing the issuance policy: this is what a
   * compromised or buggy signer could produce, and what verification must still reject.
   */
  forgeLeaf(site: string, options: ForgedLeafOptions): KeyedCertificate {
    const { authority, privateKey: caKey } = this.#site(site);
    const privateKey = generatePrivateKey();
    const now = Date.now();
    const certificate = buildCertificate({
      subjectKey: privateKey,
      commonName: 'forged',
      notBefore: options.notBefore ?? new Date(now - 60_000),
      notAfter: options.notAfter ?? new Date(now + 3_600_000),
      uris: options.uris,
      ...(options.usages === 'none' ? {} : { usages: options.usages ?? ['client', 'server'] }),
      issuer: { privateKey: caKey, certificate: authority.certificate, commonName: `${site} site CA`, organization: this.name },
    });
    return { privateKey, certificate, chain: [certificate, authority.certificate] };
  }

  /** Issues an identity and writes it to `dir` as `<name>.key` (0600), `<name>.crt` (chain) and `bundle.pem`. */
  writeIdentity(dir: string, site: string, kind: IdentityKind, name: string): IdentityFiles & { identity: TestIdentity } {
    const identity = this.identity(site, kind, name);
    const files = { keyFile: join(dir, `${name}.key`), certFile: join(dir, `${name}.crt`), caFile: join(dir, 'bundle.pem') };
    writePrivateKey(files.keyFile, identity.privateKey);
    writeCertificates(files.certFile, identity.chain);
    this.writeBundle(files.caFile);
    return { ...files, identity };
  }

  /** Writes this trust domain's roots (PEM) to `path`. */
  writeBundle(path: string): void {
    writeCertificates(path, this.bundle.roots);
  }

  #site(name: string): Site {
    let site = this.#sites.get(name);
    if (site === undefined) {
      site = createSiteAuthority(this.root, name, { bundle: this.bundle });
      this.#sites.set(name, site);
    }
    return site;
  }
}

/**
 * The SPIFFE ID of a workload (or of another `kind`) in the default trust domain, spelled out
 * here rather than by the code under test, so assertions compare against an independent value.
 */
export function spiffe(site: string, service: string, kind: IdentityKind = 'svc'): string {
  return `spiffe://${TRUST_DOMAIN}/site/${site}/${kind}/${service}`;
}
