import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { MeridianError } from '../shared/errors/index.js';
import { certificateFacts } from '../shared/identity/index.js';
import type { EnforcedPolicy, RevocationSubject } from '../shared/policy/index.js';

/**
 * What revocation reads of a peer's leaf, taken once at its handshake (resumed or not) and kept
 * with its session, so a policy change can judge every open session without touching the TLS
 * socket again. `uri` is the SPIFFE ID read structurally from the certificate (never its text).
 */
export function leafSubject(leaf: X509Certificate, uri?: string): RevocationSubject {
  return { uri: uri ?? certificateFacts(leaf).uris[0], serial: leaf.serialNumber, notAfter: Date.parse(leaf.validTo) };
}

/** The leaf the other end of `socket` presented (or resumed with); throws when it has none. */
export function peerLeafSubject(socket: TLSSocket, uri?: string): RevocationSubject {
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', 'peer presented no certificate');
  return leafSubject(leaf, uri);
}

/** Why `leaf` may not be served under `policy` (naming it and the policy version), or undefined while it is not revoked. */
export function revocationReason(policy: EnforcedPolicy, leaf: RevocationSubject): string | undefined {
  if (!policy.revocations.isRevoked(leaf)) return undefined;
  return `${leaf.uri ?? 'a certificate without a SPIFFE ID'} (certificate serial ${leaf.serial}) is revoked by policy version ${String(policy.version)}`;
}
