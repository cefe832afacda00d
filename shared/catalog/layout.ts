/**
 * How the catalog sits in JetStream: one KV bucket per site (`catalog-<site>`), placed in that
 * site's own NATS cluster so the site keeps writing while cut off. Keys:
 *   svc.<service>.<instanceId>   a ServiceInstance (JSON)
 *   lease.<node>                 a node's heartbeat: every instance of the node lives by it
 */
export const BUCKET_PREFIX = 'catalog-';

export function bucketName(site: string): string {
  return `${BUCKET_PREFIX}${site}`;
}

/** A site's status reports sit beside its catalog (see shared/status); named here, with the catalog's, for the site's NATS permissions. */
export const STATUS_BUCKET_PREFIX = 'status-';

export function statusBucketName(site: string): string {
  return `${STATUS_BUCKET_PREFIX}${site}`;
}

/** A site's join tokens (hashed): only its control service reads or writes them. */
export const JOIN_BUCKET_PREFIX = 'meridian-join-';

export function joinBucketName(site: string): string {
  return `${JOIN_BUCKET_PREFIX}${site}`;
}

/** The JetStream stream behind a KV bucket (what stream-info requests and watch errors name). */
export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

export function siteOfStream(stream: string): string | undefined {
  const prefix = kvStreamName(BUCKET_PREFIX);
  return stream.startsWith(prefix) ? stream.slice(prefix.length) : undefined;
}

/** The KV key of an instance in its site's catalog bucket. */
export function instanceKvKey(service: string, instanceId: string): string {
  return `svc.${service}.${instanceId}`;
}

export function leaseKey(node: string): string {
  return `lease.${node}`;
}

export type ParsedKey = { kind: 'instance'; service: string; instanceId: string } | { kind: 'lease'; node: string } | { kind: 'other' };

export function parseKey(key: string): ParsedKey {
  const [kind, first, ...rest] = key.split('.');
  if (kind === 'svc' && first !== undefined && rest.length > 0) return { kind: 'instance', service: first, instanceId: rest.join('.') };
  if (kind === 'lease' && first !== undefined) return { kind: 'lease', node: [first, ...rest].join('.') };
  return { kind: 'other' };
}

/** A node's heartbeat record. */
export interface NodeLease {
  readonly node: string;
  readonly ttlMs: number;
  readonly renewedAt: string;
}
