import type { X509Certificate } from 'node:crypto';
import { certificateFacts } from '../identity/index.js';
import type { CertificateStatus } from './types.js';

/** A certificate's status line: its SPIFFE ID (read from the SAN structure) and expiry. */
export function certificateStatus(role: CertificateStatus['role'], certificate: X509Certificate): CertificateStatus {
  const identity = certificateFacts(certificate).uris[0] ?? certificate.subject;
  return { role, identity, notAfter: new Date(certificate.validTo).toISOString() };
}
