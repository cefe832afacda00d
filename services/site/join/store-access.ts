import type { KV } from '@nats-io/kv';
import type { PkiDirectory } from '../../../shared/identity/index.js';
import { connectAsControl, currentControlIdentity } from '../control-nats.js';
import { ensureJoinBucket } from './token-store.js';

/**
 * Opens a site's join-token bucket as its control user, from the control host (the PKI directory
 * holding the site CA): what `meridian token create/list/revoke` work on.
 */
export async function openJoinStore(options: { pki: PkiDirectory; site: string; natsUrl: string }): Promise<{ kv: KV; close(): Promise<void> }> {
  const { pki, site } = options;
  pki.loadSiteCertificate(site);
  // A one-shot command: fail fast rather than wait for a server that is not there.
  const nc = await connectAsControl({
    pki,
    site,
    natsUrl: options.natsUrl,
    identity: currentControlIdentity(pki, site),
    name: `meridian-token-${site}`,
    overrides: { maxReconnectAttempts: 0, timeout: 5_000 },
  });
  try {
    return { kv: await ensureJoinBucket(nc, site, { deadlineMs: 5_000 }), close: () => nc.close() };
  } catch (error) {
    await nc.close();
    throw error;
  }
}
