import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureKvBucket, kvStreamName, statusBucketName, STATUS_BUCKET_PREFIX } from '../catalog/index.js';
import type { ReporterKind } from './types.js';

/**
 * Status records live beside the catalog, one bucket per site (`status-<site>`), so only the
 * control services follow them: agents' catalog views never carry the reports. Keys:
 *   agent.<node>   gateway.<name>   control.<site>
 */
export { statusBucketName, STATUS_BUCKET_PREFIX };

export function siteOfStatusStream(stream: string): string | undefined {
  const prefix = kvStreamName(STATUS_BUCKET_PREFIX);
  return stream.startsWith(prefix) ? stream.slice(prefix.length) : undefined;
}

export function statusKey(kind: ReporterKind, name: string): string {
  return `${kind}.${name}`;
}

/** Creates (or opens) a site's status bucket in its own cluster; run at bootstrap like the catalog's. */
export async function ensureStatusBucket(nc: NatsConnection, site: string, options: { deadlineMs?: number } = {}): Promise<KV> {
  return ensureKvBucket(nc, { bucket: statusBucketName(site), site, description: `Meridian status reports of site ${site}`, ...options });
}

/** Opens a site's status bucket without creating it. */
export async function openStatusBucket(nc: NatsConnection, site: string, timeoutMs: number): Promise<KV> {
  return new Kvm(jetstream(nc, { timeout: timeoutMs })).open(statusBucketName(site));
}
