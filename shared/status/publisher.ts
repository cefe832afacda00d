import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { jsonLogger, type Logger } from '../telemetry/log.js';
import { DEFAULT_MAX_PAYLOAD, REPORT_HEADROOM_BYTES, fitReport, type FittedReport } from './bound.js';
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
  /** Where the warning about a report trimmed to fit the server's max_payload goes. Default: JSON lines on stderr. */
  readonly log?: Pick<Logger, 'warn'>;
}

/** While reports keep being trimmed, the warning is repeated this often (not at every tick). */
const TRIM_WARNING_EVERY_MS = 10 * 60 * 1000;

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
 * never disturb the process that reports. A record over the server's max_payload (read from the
 * connection, so each server's own limit applies) is trimmed to fit and written, with a warning:
 * a report too large is never silently dropped.
 */
export function startStatusPublisher(options: StatusPublisherOptions): StatusPublisher {
  let bucket: Promise<KV> | undefined;
  let key: string | undefined;
  let stopped = false;
  const warnTrimmed = trimWarning(options.log ?? jsonLogger('status'));
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
      const maxPayload = options.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
      const fitted = fitReport(record, maxPayload - REPORT_HEADROOM_BYTES);
      warnTrimmed(key, maxPayload, fitted);
      await (await kv()).put(key, fitted.json);
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

/** Warns when reports start being trimmed, and again every {@link TRIM_WARNING_EVERY_MS} while they are. */
function trimWarning(log: Pick<Logger, 'warn'>): (key: string, maxPayload: number, fitted: FittedReport) => void {
  let warnedAt: number | undefined;
  return (key, maxPayload, fitted) => {
    if (fitted.trimmed.length === 0) {
      warnedAt = undefined;
      return;
    }
    const now = Date.now();
    if (warnedAt !== undefined && now - warnedAt < TRIM_WARNING_EVERY_MS) return;
    warnedAt = now;
    log.warn("status report trimmed to fit the NATS server's max_payload: entries of its lists are left out (the report's `omitted` says how many)", {
      key,
      bytes: fitted.bytes,
      maxPayload,
      trimmed: fitted.trimmed,
      omitted: fitted.omitted,
    });
  };
}
