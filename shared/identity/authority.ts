import type { KeyObject, X509Certificate } from 'node:crypto';
import { MeridianError } from '../errors/index.js';
import { TrustBundle } from './bundle.js';
import { certificateFacts } from './certificate-facts.js';
import { parseCsr, type ParsedCsr } from './csr.js';
import { OID } from './der.js';
import { generatePrivateKey } from './keys.js';
import { assertName, assertTrustDomain, formatSpiffeId, parseSpiffeId } from './spiffe.js';
import type { KeyAlgorithm, KeyedCertificate, SpiffeId } from './types.js';
import { buildCertificate } from './x509-builder.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Leaf lifetime default (24 h, as Istio and Linkerd) and the longest we issue. */
export const DEFAULT_LEAF_TTL_MS = 24 * HOUR_MS;
export const MAX_LEAF_TTL_MS = 30 * DAY_MS;
export const DEFAULT_ROOT_TTL_MS = 3650 * DAY_MS;
export const DEFAULT_SITE_CA_TTL_MS = 365 * DAY_MS;
// Tolerates clock skew between the signer and a verifier that runs slightly behind; a tenth of a
// short lifetime at most, so half-life renewal stays meaningful for short-lived certificates.
const BACKDATE_MS = 60_000;
const backdate = (ttlMs: number): number => Math.min(BACKDATE_MS, ttlMs / 10);

/** The trust domain's root: its key stays wherever `meridian ca init` ran. */
export interface RootAuthority extends KeyedCertificate {
  readonly trustDomain: string;
}

/** Creates a self-signed root CA for `trustDomain`. */
export function createRootAuthority(options: {
  trustDomain: string;
  algorithm?: KeyAlgorithm;
  ttlMs?: number;
  now?: Date;
}): RootAuthority {
  assertTrustDomain(options.trustDomain);
  const now = options.now ?? new Date();
  const privateKey = generatePrivateKey(options.algorithm);
  const commonName = `${options.trustDomain} root CA`;
  const certificate = buildCertificate({
    subjectKey: privateKey,
    commonName,
    organization: options.trustDomain,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + (options.ttlMs ?? DEFAULT_ROOT_TTL_MS)),
    uris: [],
    ca: { pathLength: 1 },
    issuer: { privateKey, commonName, organization: options.trustDomain },
  });
  return { trustDomain: options.trustDomain, privateKey, certificate, chain: [certificate] };
}

/**
 * Signs a site's intermediate CA from a CSR made at the site (the site's key never travels).
 * The CSR must name exactly `spiffe://<td>/site/<site>`; the CA gets path length 0, so a site
 * can issue leaves but no further CAs.
 */
export function issueSiteCa(root: RootAuthority, request: { site: string; csr: string; ttlMs?: number; now?: Date }): X509Certificate {
  assertName('site', request.site);
  const csr = parseCsr(request.csr);
  const expected = formatSpiffeId(root.trustDomain, request.site);
  if (csr.requested.uris.length !== 1 || csr.requested.uris[0] !== expected || csr.requested.otherSanCount !== 0) {
    throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', `csr.subjectAltName: a site CA request must carry exactly one URI SAN ${expected}`);
  }
  const now = request.now ?? new Date();
  return buildCertificate({
    subjectKey: csr.publicKey,
    commonName: `${request.site} site CA`,
    organization: root.trustDomain,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: capToIssuer(now.getTime() + (request.ttlMs ?? DEFAULT_SITE_CA_TTL_MS), root.certificate, now),
    uris: [expected],
    ca: { pathLength: 0 },
    issuer: { privateKey: root.privateKey, certificate: root.certificate, commonName: `${root.trustDomain} root CA`, organization: root.trustDomain },
  });
}

/** A request for a workload, gateway or agent certificate. */
export interface IssueRequest {
  /** PEM CSR; its single URI SAN is the requested SPIFFE ID. */
  readonly csr: string;
  readonly ttlMs?: number;
  readonly now?: Date;
}

/** An issued leaf with the chain a TLS endpoint presents (leaf, then site CA). */
export interface IssuedCertificate {
  readonly identity: SpiffeId;
  readonly certificate: X509Certificate;
  readonly chain: readonly X509Certificate[];
}

/**
 * A site's signer. It issues only identities of its own site and trust domain, only leaves,
 * always with both TLS usages, for at most MAX_LEAF_TTL_MS and never past its own expiry.
 */
export class SiteAuthority {
  readonly trustDomain: string;
  readonly site: string;
  readonly certificate: X509Certificate;
  readonly bundle: TrustBundle;
  readonly #privateKey: KeyObject;

  constructor(options: { privateKey: KeyObject; certificate: X509Certificate; bundle: TrustBundle }) {
    const facts = certificateFacts(options.certificate);
    const id = facts.uris.length === 1 ? parseSpiffeId(facts.uris[0] ?? '', options.bundle.trustDomain) : undefined;
    if (!facts.isCa || id?.kind !== 'site') {
      throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `site CA certificate ${options.certificate.subject} is not a Meridian site CA`);
    }
    if (!options.certificate.checkPrivateKey(options.privateKey)) {
      throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `site CA key does not match the certificate of site ${id.site}`);
    }
    if (options.bundle.issuerOf(options.certificate) === undefined) {
      throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `site CA of ${id.site} does not chain to the trust bundle of ${options.bundle.trustDomain}`);
    }
    this.trustDomain = options.bundle.trustDomain;
    this.site = id.site;
    this.certificate = options.certificate;
    this.bundle = options.bundle;
    this.#privateKey = options.privateKey;
  }

  /** Checks the request against policy and signs it; throws a MeridianError naming the field otherwise. */
  issue(request: IssueRequest): IssuedCertificate {
    const csr = parseCsr(request.csr);
    const identity = this.#authorize(csr);
    const now = request.now ?? new Date();
    const ttlMs = request.ttlMs ?? DEFAULT_LEAF_TTL_MS;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_LEAF_TTL_MS) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `ttl: must be between 1 ms and ${MAX_LEAF_TTL_MS / DAY_MS} days (got ${ttlMs} ms)`);
    }
    const certificate = buildCertificate({
      subjectKey: csr.publicKey,
      commonName: identity.name,
      organization: this.trustDomain,
      notBefore: new Date(now.getTime() - backdate(ttlMs)),
      notAfter: capToIssuer(now.getTime() + ttlMs, this.certificate, now),
      uris: [identity.uri],
      usages: ['client', 'server'],
      issuer: { privateKey: this.#privateKey, certificate: this.certificate, commonName: `${this.site} site CA`, organization: this.trustDomain },
    });
    return { identity, certificate, chain: [certificate, this.certificate] };
  }

  #authorize(csr: ParsedCsr): SpiffeId {
    const { uris, otherSanCount, isCa, extKeyUsage } = csr.requested;
    if (uris.length !== 1 || otherSanCount !== 0) {
      throw new MeridianError(
        'MERIDIAN_ERR_CSR_INVALID',
        `csr.subjectAltName: exactly one URI SAN (the SPIFFE ID) and no other SAN is required (found ${uris.length} URI, ${otherSanCount} other)`,
      );
    }
    const identity = parseSpiffeId(uris[0] ?? '', this.trustDomain);
    if (identity.kind === 'site') throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', `csr.subjectAltName: ${identity.uri} is a site CA identity`);
    if (identity.site !== this.site) {
      throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `csr.subjectAltName: site CA of ${this.site} may not issue ${identity.uri} (site ${identity.site})`);
    }
    if (isCa) throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', 'csr.extensionRequest.basicConstraints: a mesh identity cannot be a CA');
    if (extKeyUsage !== undefined && !(extKeyUsage.includes(OID.clientAuth) && extKeyUsage.includes(OID.serverAuth))) {
      throw new MeridianError(
        'MERIDIAN_ERR_CERT_USAGE',
        'csr.extensionRequest.extKeyUsage: mesh certificates carry both TLS client and server usage; the request asks for a set without them',
      );
    }
    return identity;
  }
}

/** Keeps a certificate inside its issuer's validity; refuses to sign with an expired issuer. */
function capToIssuer(notAfterMs: number, issuer: X509Certificate, now: Date): Date {
  const issuerEnd = new Date(issuer.validTo).getTime();
  if (issuerEnd <= now.getTime()) {
    throw new MeridianError('MERIDIAN_ERR_CERT_EXPIRED', `issuer ${issuer.subject.replace(/\n/g, ', ')} expired at ${issuer.validTo}; it cannot sign`);
  }
  return new Date(Math.min(notAfterMs, issuerEnd));
}
