import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureKvBucket } from '../catalog/bucket.js';
import { trustBucketName } from './trust-document.js';

/**
 * Creates (or opens) a site's trust-document bucket (`meridian-trust-<site>`, history 1) in the
 * site's own cluster. Run at site bootstrap with the catalog's buckets (a site cut off from the
 * others cannot create buckets later), and by the control service's bucket keeper when it is gone.
 * Only the site's control user may write it (see siteAuthorizationConfig); agents and gateways read.
 */
export async function ensureTrustBucket(nc: NatsConnection, site: string, options: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<KV> {
  return ensureKvBucket(nc, { bucket: trustBucketName(site), site, description: `Meridian trust bundle of site ${site}`, ...options });
}
