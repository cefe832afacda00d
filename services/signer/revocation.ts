import type { X509Certificate } from 'node:crypto';
import { MeridianError } from '../../shared/errors/index.js';
import type { EnforcedPolicy, LivePolicy } from '../../shared/policy/index.js';

/**
 * Refuses a requester whose own certificate is revoked (by its serial, or by its identity for a
 * certificate expiring before the entry's notAfter). `where` names the request field it came in.
 */
export function assertLeafNotRevoked(policy: LivePolicy, leaf: X509Certificate, uri: string, where: string): void {
  const current = policy.current;
  if (!current.revocations.isRevoked({ uri, serial: leaf.serialNumber, notAfter: Date.parse(leaf.validTo) })) return;
  throw revoked(current, `${where}: ${uri} (certificate serial ${leaf.serialNumber}) is revoked by policy version ${String(current.version)}; nothing is issued to it`);
}

/**
 * Refuses to issue for an identity with a revocation entry still in force at `now`: a certificate
 * issued now would outlive the revoked ones, so the entry would no longer catch it. Once the
 * entry's notAfter is past, the identity may be issued again.
 */
export function assertIdentityNotRevoked(policy: LivePolicy, uri: string, now: number, where: string): void {
  const current = policy.current;
  // No serial can match '' (serials are hex): only identity entries in force at `now` do.
  if (!current.revocations.isRevoked({ uri, serial: '', notAfter: now })) return;
  throw revoked(current, `${where}: ${uri} is revoked by policy version ${String(current.version)}; no certificate is issued for it while the revocation is in force`);
}

function revoked(policy: EnforcedPolicy, message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_REVOKED', message, { details: { policyVersion: policy.version } });
}
