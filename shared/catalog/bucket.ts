import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeridianError } from '../errors/index.js';
import { isJetStreamNotEnabled, jetStreamDisabledError } from './jetstream-checks.js';
import { bucketName } from './layout.js';

const API_TIMEOUT_MS = 5000;

/** Where and how a per-site KV bucket is made. */
export interface SiteBucketSpec {
  readonly bucket: string;
  readonly site: string;
  readonly description: string;
  readonly replicas?: number;
  /** Entries older than this are removed by the server (absent: kept until overwritten or deleted). */
  readonly maxAgeMs?: number;
  /** How long to retry while the supercluster's meta leader settles. Default 20 s. */
  readonly deadlineMs?: number;
  /** Stops the retries (a process shutting down): rejects with MERIDIAN_ERR_ABORTED. */
  readonly signal?: AbortSignal;
}

/**
 * Creates (or opens) a KV bucket of a site in the site's own cluster, so the site keeps writing
 * while cut off. Run it when the site is bootstrapped: JetStream's meta group spans all sites,
 * so a site cut off from the others cannot create buckets, but keeps writing to the ones it has.
 */
export async function ensureKvBucket(nc: NatsConnection, spec: SiteBucketSpec): Promise<KV> {
  const deadline = Date.now() + (spec.deadlineMs ?? 20_000);
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    if (spec.signal?.aborted === true) throw new MeridianError('MERIDIAN_ERR_ABORTED', `creating or opening the bucket ${spec.bucket} was aborted`);
    try {
      return await new Kvm(jetstream(nc, { timeout: API_TIMEOUT_MS })).create(spec.bucket, {
        history: 1,
        replicas: spec.replicas ?? 1,
        // A standalone server (a one-node site) has no cluster name to place on.
        ...(nc.info?.cluster === undefined ? {} : { placement: { cluster: spec.site, tags: [] } }),
        description: spec.description,
        ...(spec.maxAgeMs === undefined ? {} : { ttl: spec.maxAgeMs }),
      });
    } catch (cause) {
      // No JetStream at all is no transient state: waiting out the deadline would only hide it.
      if (isJetStreamNotEnabled(cause)) throw jetStreamDisabledError(`nats://${nc.getServer()}`, cause);
      // Right after a supercluster forms, the meta leader may not know every site's peer yet.
      if (Date.now() + delay > deadline) {
        throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot create or open the bucket ${spec.bucket}: ${(cause as Error).message}`, { cause });
      }
      await pause(delay, spec.signal, spec.bucket);
    }
  }
}

async function pause(ms: number, signal: AbortSignal | undefined, bucket: string): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? undefined : { signal });
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_ABORTED', `creating or opening the bucket ${bucket} was aborted`, { cause });
  }
}

/** Creates (or opens) a site's catalog bucket (see {@link ensureKvBucket}). */
export async function ensureSiteBucket(nc: NatsConnection, site: string, options: { replicas?: number; deadlineMs?: number; signal?: AbortSignal } = {}): Promise<KV> {
  return ensureKvBucket(nc, { bucket: bucketName(site), site, description: `Meridian catalog of site ${site}`, ...options });
}

/** Opens a site's catalog bucket without creating it (any site may read any bucket). */
export async function openSiteBucket(nc: NatsConnection, site: string, timeoutMs = API_TIMEOUT_MS): Promise<KV> {
  return new Kvm(jetstream(nc, { timeout: timeoutMs })).open(bucketName(site));
}
