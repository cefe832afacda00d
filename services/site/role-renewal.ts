import { issueLocalIdentity, type LiveIdentity, type PkiDirectory } from '../../shared/identity/index.js';
import { startRoleRenewal, type RoleRenewal } from '../../shared/renewal/index.js';
import type { Logger } from '../../shared/telemetry/index.js';

/** What an operator checks when the control service cannot renew its own certificate. */
export const CONTROL_CA_ADVICE = "check the site CA in the PKI dir (sites/<site>/ca.key and ca.crt readable, the CA not expired: renew it with 'meridian ca')";

/**
 * Renews the control service's own `svc/control` identity from the site CA it holds (no round
 * trip: the CA key is on this host), on the same schedule as every other role; the key and chain
 * are rewritten in the PKI dir, and the live identity carries them, with the PKI dir's current
 * bundle, to NATS and the status API.
 */
export function startControlRenewal(options: { pki: PkiDirectory; site: string; live: LiveIdentity; ttlMs?: number; log: Logger }): RoleRenewal {
  const { pki, site } = options;
  const paths = pki.identityPaths(site, 'svc', 'control');
  return startRoleRenewal({
    role: 'control',
    live: options.live,
    // Read at each renewal: a site CA renewed or a bundle rotated on disk is used from the next one on.
    issue: () => {
      const issued = issueLocalIdentity(pki.loadSite(site), 'svc', 'control', options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs });
      return Promise.resolve({ privateKey: issued.privateKey, chain: issued.chain, bundle: pki.loadBundle() });
    },
    files: { keyFile: paths.key, certFile: paths.cert },
    whenExpired: CONTROL_CA_ADVICE,
    log: options.log,
  });
}
