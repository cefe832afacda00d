import { MeridianError } from '../../shared/errors/index.js';
import type { MtlsIdentity } from '../../shared/identity/index.js';

/**
 * An agent whose certificate expired while it was down cannot renew it (renewal proves itself
 * with the current certificate): it is told to join again with a new token, at start.
 */
export function assertNotExpired(identity: MtlsIdentity, certFile: string, now = new Date()): void {
  const leaf = identity.chain[0];
  if (leaf === undefined || now <= new Date(leaf.validTo)) return;
  throw new MeridianError(
    'MERIDIAN_ERR_CERT_EXPIRED',
    `${certFile}: the agent certificate expired at ${new Date(leaf.validTo).toISOString()} and can no longer be renewed; ` +
      "join again: 'meridian token create --site <site>' on the control host, then 'meridian agent join --token <token> --control <host:port> --config <agent.json>' here",
    { details: { certFile, expiredAt: leaf.validTo } },
  );
}
