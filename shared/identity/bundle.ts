import { X509Certificate } from 'node:crypto';
import { MeridianError } from '../errors/index.js';
import { certificateFacts } from './certificate-facts.js';
import { assertTrustDomain } from './spiffe.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/**
 * The roots a trust domain accepts. It holds more than one root so a root can be rotated:
 * publish the new root beside the old one, re-issue site CAs, then drop the old root.
 */
export class TrustBundle {
  readonly trustDomain: string;
  readonly roots: readonly X509Certificate[];

  constructor(trustDomain: string, roots: readonly X509Certificate[]) {
    assertTrustDomain(trustDomain);
    if (roots.length === 0) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `trust bundle for ${trustDomain} has no root`);
    for (const root of roots) {
      if (!certificateFacts(root).isCa || !root.checkIssued(root)) {
        throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `trust bundle root ${root.subject} is not a self-signed CA`);
      }
    }
    this.trustDomain = trustDomain;
    this.roots = Object.freeze([...roots]);
  }

  /** Parses every certificate of a PEM bundle; `source` names the file in errors. */
  static fromPem(trustDomain: string, pem: string, source = 'trust bundle'): TrustBundle {
    return new TrustBundle(trustDomain, parseCertificates(pem, source));
  }

  withRoot(root: X509Certificate): TrustBundle {
    if (this.roots.some((r) => r.fingerprint256 === root.fingerprint256)) return this;
    return new TrustBundle(this.trustDomain, [...this.roots, root]);
  }

  withoutRoot(fingerprint256: string): TrustBundle {
    return new TrustBundle(this.trustDomain, this.roots.filter((r) => r.fingerprint256 !== fingerprint256));
  }

  /** The root that signed `certificate`, if any. */
  issuerOf(certificate: X509Certificate): X509Certificate | undefined {
    return this.roots.find((root) => certificate.checkIssued(root) && certificate.verify(root.publicKey));
  }

  toPem(): string {
    return chainToPem(this.roots);
  }
}

/** Certificates as one PEM text, in order (a chain leaf first, or a bundle's roots). */
export function chainToPem(certificates: readonly X509Certificate[]): string {
  return certificates.map((c) => c.toString()).join('');
}

/** Every certificate of a PEM text, in order. */
export function parseCertificates(pem: string, source: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${source}: no PEM certificate found`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (cause) {
      throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${source}: certificate #${index + 1} is unreadable`, { cause });
    }
  });
}
