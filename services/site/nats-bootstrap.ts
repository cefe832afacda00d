import { siteAuthorizationConfig } from '../../shared/catalog/index.js';
import type { PkiDirectory } from '../../shared/identity/index.js';
import type { NatsTlsOptions } from './nats-conf.js';
import { siteBuckets } from './buckets.js';
import { connectAsControl } from './control-nats.js';

/** What a site's nats-server needs: TLS with the site's `nats` identity, and the site's user. */
export interface SiteNatsSetup {
  readonly site: string;
  readonly tls: NatsTlsOptions;
  readonly authorization: string;
  /** The site user's password, handed to the site's agents when they join. */
  readonly password: string;
  /** The control service user's password (signer, reaper); it stays on the control host. */
  readonly controlPassword: string;
}

/**
 * Bootstraps a site's NATS access from its CA: issues `spiffe://<td>/site/<site>/svc/nats` for the
 * server (clients check that identity instead of a host name), requires trust-domain client
 * certificates, and derives the site user's password from the site CA key.
 */
export function prepareSiteNats(pki: PkiDirectory, site: string): SiteNatsSetup {
  const issued = pki.issueIdentity(site, 'svc', 'nats');
  const { agent: password, control: controlPassword } = pki.siteNatsPasswords(site);
  return {
    site,
    tls: { certFile: issued.certPath, keyFile: issued.keyPath, caFile: pki.bundlePath, verify: true },
    authorization: siteAuthorizationConfig(site, { agent: password, control: controlPassword }),
    password,
    controlPassword,
  };
}

/**
 * Creates the site's buckets ({@link siteBuckets}) as the site's control service, at bootstrap: a site cut off
 * from the others cannot create buckets later (JetStream's meta group spans all sites).
 */
export async function bootstrapSiteCatalog(options: { pki: PkiDirectory; site: string; setup: SiteNatsSetup; url: string }): Promise<void> {
  const { pki, site } = options;
  const nc = await connectAsControl({ pki, site, natsUrl: options.url, identity: pki.issueMtlsIdentity(site, 'svc', 'control'), password: options.setup.controlPassword });
  try {
    for (const { ensure } of siteBuckets(site)) await ensure(nc);
  } finally {
    await nc.close();
  }
}
