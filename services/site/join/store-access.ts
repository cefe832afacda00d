import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { existsSync } from 'node:fs';
import { siteConnectOptions } from '../../../shared/catalog/index.js';
import { MeridianError } from '../../../shared/errors/index.js';
import { loadMtlsIdentity, ownIdentity, readPrivateKey, type MtlsIdentity, type PkiDirectory } from '../../../shared/identity/index.js';
import { ensureJoinBucket } from './token-store.js';

/** The control identity on disk when it is still valid, else a fresh one (as the control service does at start). */
function controlIdentity(pki: PkiDirectory, site: string): MtlsIdentity {
  const paths = pki.identityPaths(site, 'svc', 'control');
  if (existsSync(paths.key) && existsSync(paths.cert)) {
    try {
      const identity = loadMtlsIdentity({ keyFile: paths.key, certFile: paths.cert, bundleFile: pki.bundlePath, trustDomain: pki.trustDomain() });
      ownIdentity(identity, paths.cert, 'svc');
      return identity;
    } catch {
      // Expired or unreadable: issued anew below, as the control service would.
    }
  }
  const issued = pki.issueIdentity(site, 'svc', 'control');
  return { privateKey: readPrivateKey(issued.keyPath), chain: issued.chain, bundle: pki.loadBundle() };
}

/**
 * Opens a site's join-token bucket as its control user, from the control host (the PKI directory
 * holding the site CA): what `meridian token create/list/revoke` work on.
 */
export async function openJoinStore(options: { pki: PkiDirectory; site: string; natsUrl: string }): Promise<{ kv: KV; close(): Promise<void> }> {
  const { pki, site } = options;
  pki.loadSiteCertificate(site);
  const password = pki.siteNatsPasswords(site).control;
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...siteConnectOptions({ servers: options.natsUrl, site, user: 'control', password, identity: controlIdentity(pki, site), name: `meridian-token-${site}` }),
      maxReconnectAttempts: 0,
      timeout: 5_000,
    });
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot reach the site's NATS at ${options.natsUrl}: ${(cause as Error).message}`, { cause });
  }
  try {
    return { kv: await ensureJoinBucket(nc, site, { deadlineMs: 5_000 }), close: () => nc.close() };
  } catch (error) {
    await nc.close();
    throw error;
  }
}
