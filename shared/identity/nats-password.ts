import { hkdfSync, type KeyObject } from 'node:crypto';

/** The two NATS users of a site: its agents and gateways, and its control service. */
export interface SiteNatsPasswords {
  readonly agent: string;
  readonly control: string;
}

/**
 * A site's NATS password, derived from the site CA's private key: only the site's control plane
 * (which holds that key) can compute it. `PkiDirectory.siteNatsPasswords` pins the derived
 * passwords before the site CA is re-keyed, so renewing the site CA does not lock anyone out.
 */
export function deriveSiteNatsPassword(siteCaKey: KeyObject, trustDomain: string, site: string, user: 'agent' | 'control' = 'agent'): string {
  const secret = siteCaKey.export({ type: 'pkcs8', format: 'der' });
  const info = user === 'agent' ? `meridian/nats/${site}` : `meridian/nats-control/${site}`;
  return Buffer.from(hkdfSync('sha256', secret, trustDomain, info, 32)).toString('base64url');
}
