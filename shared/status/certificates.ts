import type { X509Certificate } from 'node:crypto';
import { certificateFacts } from '../identity/index.js';
import type { CertificateStatus, TrustStatus } from './types.js';

/** What a trust watch exposes (shared/renewal's TrustWatch fits). */
export interface TrustWatchState {
  readonly version: number;
  readonly refused: string | undefined;
}

// Reports and scrapes ask for the same certificates every few seconds: parse each one once.
const facts = new WeakMap<X509Certificate, { identity: string; notAfter: string }>();

/** The `trust` field of a status record, from a trust watch (its version and last refusal). */
export function trustField(watch: TrustWatchState | undefined): { trust?: TrustStatus } {
  if (watch === undefined) return {};
  return { trust: { version: watch.version, ...(watch.refused === undefined ? {} : { refused: watch.refused }) } };
}

/** A certificate's status line: its SPIFFE ID (read from the SAN structure), expiry, and whether it has expired (`now`). */
export function certificateStatus(role: CertificateStatus['role'], certificate: X509Certificate, now = Date.now()): CertificateStatus {
  let known = facts.get(certificate);
  if (known === undefined) {
    known = { identity: certificateFacts(certificate).uris[0] ?? certificate.subject, notAfter: new Date(certificate.validTo).toISOString() };
    facts.set(certificate, known);
  }
  return { role, ...known, expired: Date.parse(known.notAfter) <= now };
}
