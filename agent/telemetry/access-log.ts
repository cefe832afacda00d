import { createWriteStream, mkdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { dirname } from 'node:path';
import type { RequestRecord } from '../proxy/index.js';

/** Where access logs go: off (default), a standard stream, or a file (appended to). */
export type AccessLogTarget = 'off' | 'stdout' | 'stderr' | { readonly path: string };

/** A JSON-lines access log. */
export interface AccessLog {
  write(record: RequestRecord, site: string): void;
  close(): Promise<void>;
}

/** The trace and span ids of a traceparent (`00-<trace>-<span>-<flags>`); empty when absent. */
function traceIds(traceparent: string): { traceId: string; spanId: string } {
  const [, traceId = '', spanId = ''] = traceparent.split('-');
  return { traceId, spanId };
}

/**
 * One JSON object per finished request, in the shape of the reporting side: for an outbound
 * record the source is this node's (site, service); for an inbound one, the destination.
 */
export function accessLogLine(record: RequestRecord, site: string): string {
  const local = { site, service: record.service };
  const peer = { site: record.peerSite, service: record.peerService };
  const outbound = record.direction === 'outbound';
  return `${JSON.stringify({
    time: new Date(record.startedAt).toISOString(),
    kind: 'access',
    reporter: outbound ? 'source' : 'destination',
    source: outbound ? local : peer,
    destination: outbound ? peer : local,
    protocol: record.protocol,
    method: record.method,
    path: record.path,
    status: record.status,
    durationMs: record.durationMs,
    ...traceIds(record.traceparent),
    // Only on a refusal by the policy: which rule (or default, path-normalization, revocation).
    ...(record.policyRule === undefined ? {} : { rule: record.policyRule }),
    // Only on a 429: the RateLimit document that refused the request.
    ...(record.rateLimit === undefined ? {} : { limit: record.rateLimit }),
  })}\n`;
}

/**
 * Opens an access log. Writes are buffered by the stream and never awaited on the request path;
 * a failing file (disk full, removed dir) stops the log with one report instead of the proxy.
 */
export function openAccessLog(target: AccessLogTarget, onError: (error: Error) => void): AccessLog | undefined {
  if (target === 'off') return undefined;
  let stream: Writable;
  if (target === 'stdout' || target === 'stderr') stream = target === 'stdout' ? process.stdout : process.stderr;
  else {
    mkdirSync(dirname(target.path), { recursive: true });
    stream = createWriteStream(target.path, { flags: 'a', mode: 0o640 });
  }
  let failed = false;
  stream.on('error', (error: Error) => {
    if (!failed) onError(error);
    failed = true;
  });
  return {
    write(record, site) {
      if (!failed) stream.write(accessLogLine(record, site));
    },
    close: () =>
      new Promise((resolve) => {
        if (stream === process.stdout || stream === process.stderr || failed) resolve();
        else stream.end(resolve);
      }),
  };
}
