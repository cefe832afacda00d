import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { MeridianError } from '../errors/index.js';
import { bucketName } from './layout.js';

const API_TIMEOUT_MS = 5000;

/**
 * Creates (or opens) a site's catalog bucket in the site's own cluster. Run it when the site is
 * bootstrapped: JetStream's meta group spans all sites, so a site cut off from the others cannot
 * create buckets, but keeps writing to the ones it has.
 */
export async function ensureSiteBucket(nc: NatsConnection, site: string, options: { replicas?: number; deadlineMs?: number } = {}): Promise<KV> {
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await new Kvm(jetstream(nc, { timeout: API_TIMEOUT_MS })).create(bucketName(site), {
        history: 1,
        replicas: options.replicas ?? 1,
        // A standalone server (a one-node site) has no cluster name to place on.
        ...(nc.info?.cluster === undefined ? {} : { placement: { cluster: site, tags: [] } }),
        description: `Meridian catalog of site ${site}`,
      });
    } catch (cause) {
      // Right after a supercluster forms, the meta leader may not know every site's peer yet.
      if (Date.now() + delay > deadline) {
        throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot create or open the catalog bucket ${bucketName(site)}: ${(cause as Error).message}`, { cause });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Opens a site's catalog bucket without creating it (any site may read any bucket). */
export async function openSiteBucket(nc: NatsConnection, site: string, timeoutMs = API_TIMEOUT_MS): Promise<KV> {
  return new Kvm(jetstream(nc, { timeout: timeoutMs })).open(bucketName(site));
}
