import type { NatsConnection } from '@nats-io/transport-node';
import { bucketName, ensureSiteBucket, joinBucketName, statusBucketName } from '../../shared/catalog/index.js';
import { ensureTrustBucket } from '../../shared/identity/trust-bucket.js';
import { trustBucketName } from '../../shared/identity/trust-document.js';
import { ensureStatusBucket } from '../../shared/status/index.js';
import { ensureJoinBucket } from './join/token-store.js';
import { ensurePolicyStreams, policyMirrorName } from '../../shared/policy/distribution/index.js';

/** One of a site's buckets: its name, and how to create (or open) it within a deadline. */
export interface SiteBucket {
  readonly bucket: string;
  /** The stream looked for (default the KV bucket's stream). */
  readonly stream?: string;
  readonly ensure: (nc: NatsConnection, options?: { deadlineMs?: number }) => Promise<unknown>;
}

/**
 * Every bucket a site needs: the catalog, the status reports, the trust document, the join
 * tokens, and the site's mirror of the policy stream (with the federation's policy origin when no
 * site created it yet: the first site bootstrapped holds it). Created at bootstrap and recreated by the bucket keeper from this one list, so a bucket
 * added here is both created and kept.
 */
export function siteBuckets(site: string): readonly SiteBucket[] {
  return [
    { bucket: bucketName(site), ensure: (nc, options) => ensureSiteBucket(nc, site, options) },
    { bucket: statusBucketName(site), ensure: (nc, options) => ensureStatusBucket(nc, site, options) },
    { bucket: trustBucketName(site), ensure: (nc, options) => ensureTrustBucket(nc, site, options) },
    { bucket: joinBucketName(site), ensure: (nc, options) => ensureJoinBucket(nc, site, options) },
    { bucket: policyMirrorName(site), stream: policyMirrorName(site), ensure: (nc, options) => ensurePolicyStreams(nc, site, options) },
  ];
}
