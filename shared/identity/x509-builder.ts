import { randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import * as der from './der.js';
import { keyIdentifier, signatureAlgorithm, spkiDer } from './keys.js';
import type { TlsUsage } from './types.js';

/**
 * Everything that goes into a certificate. This builder applies no policy: the certificate
 * authorities decide what may be issued; tests use the builder directly to forge bad
 * certificates and prove that verification rejects them.
 */
export interface CertificateTemplate {
  readonly subjectKey: KeyObject;
  readonly commonName: string;
  readonly organization?: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** URI SANs (Meridian issues exactly one SPIFFE ID). */
  readonly uris: readonly string[];
  readonly ca?: { readonly pathLength: number | undefined };
  /** Extended key usages of a leaf; omit for a CA. An empty list yields an EKU without TLS usages. */
  readonly usages?: readonly TlsUsage[] | readonly string[];
  readonly issuer: CertificateIssuer;
}

/** The signer: its key and, unless self-signed, its certificate. */
export interface CertificateIssuer {
  readonly privateKey: KeyObject;
  /** Omit for a self-signed root. */
  readonly certificate?: X509Certificate;
  readonly commonName: string;
  readonly organization?: string;
}

const USAGE_OID: Record<TlsUsage, string> = { client: der.OID.clientAuth, server: der.OID.serverAuth };

/** Builds the certificate with node-forge's ASN.1 and signs it with Node's native crypto. */
export function buildCertificate(t: CertificateTemplate): X509Certificate {
  const algorithm = signatureAlgorithm(t.issuer.privateKey);
  const algorithmId = der.seq(algorithm.nullParams ? [der.oid(algorithm.oid), der.nullValue()] : [der.oid(algorithm.oid)]);
  const tbs = der.seq([
    der.explicit(0, der.smallInteger(2)),
    der.integer(serialNumber()),
    algorithmId,
    der.distinguishedName(t.issuer.commonName, t.issuer.organization),
    der.seq([der.time(t.notBefore), der.time(t.notAfter)]),
    der.distinguishedName(t.commonName, t.organization),
    forge.asn1.fromDer(spkiDer(t.subjectKey).toString('binary')),
    der.explicit(3, der.seq(extensions(t))),
  ]);
  const tbsDer = der.toDer(tbs);
  const signature = sign('sha256', tbsDer, t.issuer.privateKey);
  return new X509Certificate(der.toDer(der.seq([tbs, algorithmId, der.bitString(signature)])));
}

/** 159 random bits: positive, non-zero and under the 20-octet limit of RFC 5280. */
function serialNumber(): Buffer {
  const bytes = randomBytes(20);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes;
}

function extensions(t: CertificateTemplate): forge.asn1.Asn1[] {
  const issuerKey = t.issuer.certificate?.publicKey ?? t.issuer.privateKey;
  const list = [
    extension(der.OID.basicConstraints, true, basicConstraints(t)),
    extension(der.OID.keyUsage, true, keyUsage(t)),
    extension(der.OID.subjectKeyIdentifier, false, der.octets(keyIdentifier(t.subjectKey))),
    extension(der.OID.authorityKeyIdentifier, false, der.seq([implicitKeyId(keyIdentifier(issuerKey))])),
  ];
  if (t.usages !== undefined) {
    const oids = t.usages.map((u) => USAGE_OID[u as TlsUsage] ?? u);
    list.push(extension(der.OID.extKeyUsage, false, der.seq(oids.map(der.oid))));
  }
  // The SAN is critical when the subject name is not the identity (RFC 5280 4.2.1.6).
  if (t.uris.length > 0) list.push(extension(der.OID.subjectAltName, true, der.uriGeneralNames(t.uris)));
  return list;
}

function extension(id: string, critical: boolean, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  const parts = [der.oid(id), ...(critical ? [der.bool(true)] : []), der.octets(der.toDer(value))];
  return der.seq(parts);
}

function basicConstraints(t: CertificateTemplate): forge.asn1.Asn1 {
  if (t.ca === undefined) return der.seq([]);
  const path = t.ca.pathLength === undefined ? [] : [der.smallInteger(t.ca.pathLength)];
  return der.seq([der.bool(true), ...path]);
}

/** digitalSignature (+ keyEncipherment for RSA) on leaves; keyCertSign and cRLSign on CAs. */
function keyUsage(t: CertificateTemplate): forge.asn1.Asn1 {
  if (t.ca !== undefined) return der.bitString(Buffer.from([0x06]), 1);
  return t.subjectKey.asymmetricKeyType === 'rsa'
    ? der.bitString(Buffer.from([0xa0]), 5)
    : der.bitString(Buffer.from([0x80]), 7);
}

function implicitKeyId(id: Buffer): forge.asn1.Asn1 {
  return forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, false, id.toString('binary'));
}
