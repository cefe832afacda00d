import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureStatusBucket, statusKey } from './bucket.js';
import type { StatusRecord } from './types.js';

/** Options of {@link startStatusPublisher}. */
export interface StatusPublisherOptions {
  readonly nc: NatsConnection;
  readonly site: string;
  /** Builds the record at each tick; `at` is set by the publisher. */
  readonly collect: () => StatusRecord;
  readonly intervalMs: number;
  readonly onError?: (error: Error) => void;
}

/** A running status publisher. */
export interface StatusPublisher {
  /** Publishes at once (e.g. right after a link changed state). */
  publishNow(): Promise<void>;
  /** Stops publishing; `remove` deletes the record (a graceful stop, not a crash). */
  stop(options?: { remove?: boolean }): Promise<void>;
}

/**
 * Writes the process's status record into its site's status bucket every `intervalMs`. Write
 * failures (NATS down, site cut off) are reported and retried at the next tick: reporting must
 * never disturb the process that reports.
 */
export function startStatusPublisher(options: StatusPublisherOptions): StatusPublisher {
  let bucket: Promise<KV> | undefined;
  let key: string | undefined;
  let stopped = false;
  const kv = (): Promise<KV> => {
    bucket ??= ensureStatusBucket(options.nc, options.site, { deadlineMs: 2_000 }).catch((error: unknown) => {
      bucket = undefined;
      throw error;
    });
    return bucket;
  };
  const publish = async (): Promise<void> => {
    if (stopped) return;
    try {
      const record = { ...options.collect(), at: new Date().toISOString() };
      key = statusKey(record.kind, record.name);
      await (await kv()).put(key, JSON.stringify(record));
    } catch (error) {
      options.onError?.(error as Error);
    }
  };
  void publish();
  const timer = setInterval(() => void publish(), options.intervalMs);
  timer.unref();
  return {
    publishNow: publish,
    async stop(stopOptions = {}) {
      stopped = true;
      clearInterval(timer);
      if (stopOptions.remove !== true || key === undefined) return;
      await (await kv()).delete(key).catch((error: unknown) => options.onError?.(error as Error));
    },
  };
}
