import type { KeyObject, X509Certificate } from 'node:crypto';

/** What a SPIFFE identity names: a workload service, an east-west gateway, a node agent, or a site CA. */
export type IdentityKind = 'svc' | 'gateway' | 'agent';

/** A parsed, validated Meridian SPIFFE ID. */
export interface SpiffeId {
  readonly uri: string;
  readonly trustDomain: string;
  readonly site: string;
  readonly kind: IdentityKind | 'site';
  /** Service, gateway or node name; the site name for a site CA. */
  readonly name: string;
}

/** Key algorithms Meridian issues: ECDSA P-256 (default) or RSA-2048. */
export type KeyAlgorithm = 'ec-p256' | 'rsa-2048';

/** TLS usages a mesh certificate carries. */
export type TlsUsage = 'client' | 'server';

/** A private key with its certificate. */
export interface KeyedCertificate {
  readonly privateKey: KeyObject;
  readonly certificate: X509Certificate;
  /** What a TLS endpoint presents: the certificate first, then its issuers up to, not including, the root. */
  readonly chain: readonly X509Certificate[];
}

/** What the X.509 extensions of a certificate say, decoded structurally from DER. */
export interface CertificateFacts {
  readonly uris: readonly string[];
  /** Count of SAN entries of every other type (DNS, IP, e-mail...). */
  readonly otherSanCount: number;
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
}
