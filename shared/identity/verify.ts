import type { X509Certificate } from 'node:crypto';
import { MeridianError } from '../errors/index.js';
import type { TrustBundle } from './bundle.js';
import { certificateFacts } from './certificate-facts.js';
import { OID } from './der.js';
import { parseSpiffeId } from './spiffe.js';
import type { SpiffeId, TlsUsage } from './types.js';

const USAGE_OID: Record<TlsUsage, string> = { client: OID.clientAuth, server: OID.serverAuth };

/** A peer's certificate and the issuer certificates it presented (or that TLS verified). */
export interface PeerCertificates {
  readonly leaf: X509Certificate;
  readonly intermediates: readonly X509Certificate[];
}

function rejected(message: string, code: ConstructorParameters<typeof MeridianError>[0] = 'MERIDIAN_ERR_PEER_IDENTITY'): MeridianError {
  return new MeridianError(code, message);
}

/**
 * Verifies a mesh certificate and returns its SPIFFE identity. On top of the chain checks TLS
 * already made, Meridian enforces: exactly one URI SAN and nothing else, a SPIFFE ID of this
 * trust domain, the TLS usage the peer acts in, a non-CA leaf, and that the site CA which issued
 * it belongs to the same site as the identity.
 */
export function verifyPeer(peer: PeerCertificates, bundle: TrustBundle, usage: TlsUsage, now = new Date()): SpiffeId {
  const facts = certificateFacts(peer.leaf);
  if (facts.isCa) throw rejected('peer certificate is a CA certificate, not a workload identity');
  if (facts.uris.length !== 1 || facts.otherSanCount !== 0) {
    throw rejected(`peer certificate must carry exactly one URI SAN and no other SAN (found ${facts.uris.length} URI, ${facts.otherSanCount} other)`);
  }
  const id = parseSpiffeId(facts.uris[0] ?? '', bundle.trustDomain);
  if (id.kind === 'site') throw rejected(`peer identity ${id.uri} is a site CA identity`);
  if (!facts.extKeyUsage?.includes(USAGE_OID[usage])) {
    throw rejected(`peer certificate ${id.uri} lacks the TLS ${usage} usage`, 'MERIDIAN_ERR_CERT_USAGE');
  }
  assertValidAt(peer.leaf, now, id.uri);
  const siteCa = findSiteCa(peer, id);
  assertValidAt(siteCa, now, `site CA of ${id.site}`);
  if (bundle.issuerOf(siteCa) === undefined) throw rejected(`site CA of ${id.site} does not chain to a root of ${bundle.trustDomain}`);
  return id;
}

function findSiteCa(peer: PeerCertificates, id: SpiffeId): X509Certificate {
  const issuer = peer.intermediates.find((c) => peer.leaf.checkIssued(c) && peer.leaf.verify(c.publicKey));
  if (issuer === undefined) throw rejected(`no site CA in the presented chain issued ${id.uri}`);
  const facts = certificateFacts(issuer);
  const issuerSite = facts.uris.length === 1 ? parseSpiffeId(facts.uris[0] ?? '', id.trustDomain) : undefined;
  if (!facts.isCa || issuerSite?.kind !== 'site') throw rejected(`issuer of ${id.uri} is not a Meridian site CA`);
  if (issuerSite.site !== id.site) {
    throw rejected(`site CA of ${issuerSite.site} may not issue ${id.uri} (site ${id.site})`, 'MERIDIAN_ERR_SITE_SCOPE');
  }
  return issuer;
}

function assertValidAt(certificate: X509Certificate, now: Date, what: string): void {
  if (now < new Date(certificate.validFrom) || now > new Date(certificate.validTo)) {
    throw rejected(`${what}: certificate not valid at ${now.toISOString()} (valid ${certificate.validFrom} to ${certificate.validTo})`, 'MERIDIAN_ERR_CERT_EXPIRED');
  }
}
