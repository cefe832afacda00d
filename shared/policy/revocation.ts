import type { PolicySet } from './types.js';

/** What isRevoked reads of a leaf certificate: its URI SAN, serial (hex, any case, colons allowed) and notAfter. */
export interface RevocationSubject {
  readonly uri: string | undefined;
  readonly serial: string;
  readonly notAfter: Date | number;
}

export interface RevocationList {
  /** Entries still in force (an entry leaves once the certificates it names have expired). */
  readonly size: number;
  isRevoked(leaf: RevocationSubject): boolean;
}

/** Serials compare as hex without colons or leading zeros, in upper case. */
export function canonicalSerial(serial: string): string {
  const hex = serial.replaceAll(':', '').toUpperCase().replace(/^0+(?=.)/, '');
  return hex;
}

/**
 * Compiles the Revocation documents into two maps. An identity entry revokes every certificate of
 * that SPIFFE ID expiring at or before its `notAfter` (the revoked certificate's own notAfter), so
 * a certificate issued afterwards, expiring later, is not caught; a serial entry revokes that one
 * certificate. Entries whose `notAfter` is past at `now` are dropped: their certificates are
 * refused as expired anyway, and the list stays small.
 */
export function compileRevocations(set: PolicySet, now: Date | number): RevocationList {
  const at = typeof now === 'number' ? now : now.getTime();
  const identities = new Map<string, number>();
  const serials = new Set<string>();
  for (const doc of set.revocations) {
    for (const entry of doc.spec.entries) {
      const notAfter = Date.parse(entry.notAfter);
      if (notAfter <= at) continue;
      if (entry.identity !== undefined) identities.set(entry.identity, Math.max(notAfter, identities.get(entry.identity) ?? 0));
      if (entry.serial !== undefined) serials.add(canonicalSerial(entry.serial));
    }
  }
  return {
    size: identities.size + serials.size,
    isRevoked(leaf) {
      if (serials.has(canonicalSerial(leaf.serial))) return true;
      if (leaf.uri === undefined) return false;
      const until = identities.get(leaf.uri);
      const expires = typeof leaf.notAfter === 'number' ? leaf.notAfter : leaf.notAfter.getTime();
      return until !== undefined && expires <= until;
    },
  };
}
