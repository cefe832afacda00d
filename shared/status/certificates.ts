import type { X509Certificate } from 'node:crypto';
import { certificateFacts } from '../identity/index.js';
import type { CertificateStatus } from './types.js';

// Reports and scrapes ask for the same certificates every few seconds: parse each one once.
const facts = new WeakMap<X509Certificate, { identity: string; notAfter: string }>();

/** A certificate's status line: its SPIFFE ID (read from the SAN structure), expiry, and whether it has expired (`now`). */
export function certificateStatus(role: CertificateStatus['role'], certificate: X509Certificate, now = Date.now()): CertificateStatus {
  let known = facts.get(certificate);
  if (known === undefined) {
    known = { identity: certificateFacts(certificate).uris[0] ?? certificate.subject, notAfter: new Date(certificate.validTo).toISOString() };
    facts.set(certificate, known);
  }
  return { role, ...known, expired: Date.parse(known.notAfter) <= now };
}
