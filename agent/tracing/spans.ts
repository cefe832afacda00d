import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { RequestRecord } from '../proxy/index.js';

/** The instrumentation scope of every span the agent's proxies report. */
export const PROXY_SCOPE = Object.freeze({ name: 'meridian-agent-proxy' });

/** The ids of one proxied request's span, read from the traceparents it arrived with and sent on. */
export interface SpanIds {
  readonly traceId: string;
  /** The span id this hop sent on in `traceparent`: the next hop's parent. */
  readonly spanId: string;
  /** The caller's span id, when this hop continued the caller's trace; undefined for a trace this hop began. */
  readonly parentSpanId: string | undefined;
  /** Whether the traceparent (the caller's, carried on) says sampled. */
  readonly sampledFlag: boolean;
}

const INCOMING = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-/;

/**
 * The span ids of a record, or undefined for one without a trace (TCP, plaintext permissive).
 * The outgoing traceparent was built by nextTraceparent (`00-<trace>-<span>-<flags>`); the
 * incoming one is the parent only when the outgoing kept its trace id: nextTraceparent begins a
 * new trace for a missing or invalid header, and a random 128-bit id never equals the caller's.
 */
export function spanIdsOf(record: RequestRecord): SpanIds | undefined {
  const sent = record.traceparent;
  if (sent.length < 55) return undefined;
  const traceId = sent.slice(3, 35);
  const spanId = sent.slice(36, 52);
  const flags = Number.parseInt(sent.slice(53, 55), 16);
  const incoming = INCOMING.exec(record.incomingTraceparent.trim());
  const parentSpanId = incoming !== null && incoming[1] === traceId ? incoming[2] : undefined;
  return { traceId, spanId, parentSpanId, sampledFlag: (flags & TraceFlags.SAMPLED) !== 0 };
}

/** The remote parent's context of a span that continued its caller's trace. */
export function parentContextOf(ids: SpanIds): SpanContext | undefined {
  if (ids.parentSpanId === undefined) return undefined;
  return { traceId: ids.traceId, spanId: ids.parentSpanId, traceFlags: ids.sampledFlag ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

/**
 * Error status per the HTTP semantic conventions: a reset (status 0) or 5xx on both sides, 4xx
 * too on the client side (the server answered the request as asked).
 */
function failed(record: RequestRecord): boolean {
  return record.status === 0 || record.status >= 500 || (record.direction === 'outbound' && record.status >= 400);
}

/** HTTP semantic-convention attributes, the path without its query (which may carry secrets), and Meridian's own. */
function attributesOf(record: RequestRecord): Attributes {
  const known = KNOWN_METHODS.has(record.method);
  const query = record.path.indexOf('?');
  const attributes: Attributes = {
    'http.request.method': known ? record.method : '_OTHER',
    'url.path': query === -1 ? record.path : record.path.slice(0, query),
    'meridian.peer.service': record.peerService,
  };
  if (!known) attributes['http.request.method_original'] = record.method;
  if (record.status !== 0) attributes['http.response.status_code'] = record.status;
  if (failed(record)) attributes['error.type'] = record.status === 0 ? 'reset' : String(record.status);
  if (record.peerSite !== '') attributes['meridian.peer.site'] = record.peerSite;
  if (record.direction === 'outbound') attributes['server.address'] = `${record.peerService}.mesh`;
  if (record.policyRule !== undefined) attributes['meridian.policy.rule'] = record.policyRule;
  return attributes;
}

/** The finished span of a record: a client span for an outbound request, a server span for an inbound one, with the ids that travelled. */
export function spanOf(record: RequestRecord, ids: SpanIds, resource: Resource): ReadableSpan {
  const context: SpanContext = { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false };
  const parent = parentContextOf(ids);
  const method = KNOWN_METHODS.has(record.method) ? record.method : 'HTTP';
  return {
    name: method,
    kind: record.direction === 'outbound' ? SpanKind.CLIENT : SpanKind.SERVER,
    spanContext: () => context,
    ...(parent === undefined ? {} : { parentSpanContext: parent }),
    startTime: hrTime(record.startedAt),
    endTime: hrTime(record.startedAt + record.durationMs),
    duration: hrTime(record.durationMs),
    status: { code: failed(record) ? SpanStatusCode.ERROR : SpanStatusCode.UNSET },
    attributes: attributesOf(record),
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: PROXY_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
