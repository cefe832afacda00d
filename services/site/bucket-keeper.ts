import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isStreamNotFound, kvStreamName } from '../../shared/catalog/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { siteBuckets } from './buckets.js';

/** Options of {@link keepSiteBuckets}. */
export interface BucketKeeperOptions {
  readonly nc: NatsConnection;
  readonly site: string;
  /** How often the buckets are looked for. */
  readonly intervalMs: number;
  readonly log: Logger;
}

/**
 * Recreates the site's buckets ({@link siteBuckets}) when they are gone (a wiped JetStream store, a
 * bucket deleted by hand): without them every agent and gateway of the site fails each write,
 * and nothing else would bring them back. One stream-info request per bucket and interval. The
 * writers rewrite their entries on their next heartbeat after a failed write.
 */
export function keepSiteBuckets(options: BucketKeeperOptions): { stop(): void } {
  const { nc, site, log } = options;
  const buckets = siteBuckets(site);
  let running = false;
  const check = async (): Promise<void> => {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 3_000 });
    for (const { bucket, stream, ensure } of buckets) {
      try {
        await jsm.streams.info(stream ?? kvStreamName(bucket));
        continue;
      } catch (error) {
        // Unreachable or cut off is no verdict: only a stream the server says is gone is recreated.
        if (!isStreamNotFound(error)) continue;
      }
      log.warn('bucket is missing: recreating it', { bucket });
      await ensure(nc, { deadlineMs: options.intervalMs });
      log.info('bucket recreated', { bucket });
    }
  };
  const timer = setInterval(() => {
    if (running || nc.isClosed()) return;
    running = true;
    check()
      .catch((error: unknown) => log.warn('cannot recreate a missing bucket', { site, error: (error as Error).message }))
      .finally(() => (running = false));
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
