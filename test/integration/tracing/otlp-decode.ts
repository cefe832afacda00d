import assert from 'node:assert/strict';
import otlpRoot from '@opentelemetry/otlp-proto-exporter-base/build/src/generated/root.js';

/*
 * Decoders of an OTLP ExportTraceServiceRequest (opentelemetry-proto, collector/trace/v1 and
 * trace/v1/trace.proto) into the spans the tests compare, in both OTLP/HTTP encodings:
 * - protobuf (`application/x-protobuf`, the default): decoded with the official definitions,
 *   the protobufjs code generated from opentelemetry-proto that
 *   @opentelemetry/otlp-proto-exporter-base ships (a test-only dependency);
 * - JSON (`application/json`): checked field by field against the JSON mapping of the same
 *   definitions (lower-camel field names, trace and span ids as hex, enums as integers, 64-bit
 *   times as decimal strings). protobufjs's own JSON reader cannot be used for it: it takes
 *   bytes as base64, where OTLP/JSON has ids in hex.
 */

/** SpanKind of trace.proto. */
export const SPAN_KIND = { SERVER: 2, CLIENT: 3 } as const;
/** Status.StatusCode of trace.proto. */
export const STATUS_CODE = { UNSET: 0, ERROR: 2 } as const;

type AttributeValue = string | number | boolean;

/** One received span with its resource and scope, values unwrapped from AnyValue. */
export interface ReceivedSpan {
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly scope: string;
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span (the proto3 default of an empty bytes field). */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly statusCode: number;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function object(value: unknown, where: string): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${where}: an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (value === undefined) return [];
  assert.ok(Array.isArray(value), `${where}: an array`);
  return value;
}

/** AnyValue: exactly one of stringValue, intValue (int64: decimal string or number), doubleValue, boolValue. */
function anyValue(value: unknown, where: string): AttributeValue {
  const fields = Object.entries(object(value, where));
  assert.equal(fields.length, 1, `${where}: one AnyValue field`);
  const [kind, inner] = fields[0] ?? assert.fail(where);
  if (kind === 'stringValue' && typeof inner === 'string') return inner;
  if (kind === 'intValue' && (typeof inner === 'number' || (typeof inner === 'string' && /^-?\d+$/.test(inner)))) return Number(inner);
  if (kind === 'doubleValue' && typeof inner === 'number') return inner;
  if (kind === 'boolValue' && typeof inner === 'boolean') return inner;
  return assert.fail(`${where}: unexpected AnyValue ${kind}=${JSON.stringify(inner)}`);
}

function attributes(list: unknown, where: string): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [i, item] of array(list, where).entries()) {
    const kv = object(item, `${where}[${i}]`);
    assert.equal(typeof kv.key, 'string', `${where}[${i}].key`);
    out[kv.key as string] = anyValue(kv.value, `${where}[${i}].value`);
  }
  return out;
}

function nanos(value: unknown, where: string): bigint {
  assert.ok((typeof value === 'string' && /^\d+$/.test(value)) || typeof value === 'number', `${where}: fixed64 nanoseconds`);
  return BigInt(value);
}

function span(value: unknown, where: string, resource: Record<string, AttributeValue>, scope: string): ReceivedSpan {
  const s = object(value, where);
  assert.match(String(s.traceId), HEX32, `${where}.traceId`);
  assert.match(String(s.spanId), HEX16, `${where}.spanId`);
  const parentSpanId = s.parentSpanId ?? '';
  assert.ok(typeof parentSpanId === 'string' && (parentSpanId === '' || HEX16.test(parentSpanId)), `${where}.parentSpanId`);
  assert.equal(typeof s.name, 'string', `${where}.name`);
  assert.equal(typeof s.kind, 'number', `${where}.kind`);
  const status = s.status === undefined ? {} : object(s.status, `${where}.status`);
  return {
    resource,
    scope,
    traceId: String(s.traceId),
    spanId: String(s.spanId),
    parentSpanId,
    name: s.name as string,
    kind: s.kind as number,
    startNs: nanos(s.startTimeUnixNano, `${where}.startTimeUnixNano`),
    endNs: nanos(s.endTimeUnixNano, `${where}.endTimeUnixNano`),
    attributes: attributes(s.attributes, `${where}.attributes`),
    statusCode: typeof status.code === 'number' ? status.code : 0,
  };
}

/** The spans of one ExportTraceServiceRequest in OTLP/JSON; fails on any field off the mapping. */
export function decodeJsonExport(body: string): ReceivedSpan[] {
  const request = object(JSON.parse(body) as unknown, 'ExportTraceServiceRequest');
  const spans: ReceivedSpan[] = [];
  for (const [r, rs] of array(request.resourceSpans, 'resourceSpans').entries()) {
    const resourceSpans = object(rs, `resourceSpans[${r}]`);
    const resource = attributes(object(resourceSpans.resource, `resourceSpans[${r}].resource`).attributes, `resourceSpans[${r}].resource.attributes`);
    for (const [c, ss] of array(resourceSpans.scopeSpans, `resourceSpans[${r}].scopeSpans`).entries()) {
      const scopeSpans = object(ss, `resourceSpans[${r}].scopeSpans[${c}]`);
      const scope = String(object(scopeSpans.scope, 'scope').name);
      for (const [i, item] of array(scopeSpans.spans, `scopeSpans[${c}].spans`).entries()) spans.push(span(item, `spans[${i}]`, resource, scope));
    }
  }
  return spans;
}

/** A protobufjs int64/fixed64 (a Long: the `long` package is installed) or a number. */
type Int64 = number | { toString(): string };

/** The decoded messages, as far as read here (the generated root is typed as a plain protobufjs Root). */
interface PbAnyValue {
  readonly value?: string;
  readonly stringValue: string | null;
  readonly boolValue: boolean | null;
  readonly intValue: Int64 | null;
  readonly doubleValue: number | null;
}
interface PbKeyValue {
  readonly key: string;
  readonly value: PbAnyValue | null;
}
interface PbSpan {
  readonly traceId: Uint8Array | null;
  readonly spanId: Uint8Array | null;
  readonly parentSpanId: Uint8Array | null;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: Int64;
  readonly endTimeUnixNano: Int64;
  readonly attributes: readonly PbKeyValue[];
  readonly status: { readonly code: number } | null;
}
interface PbRequest {
  readonly resourceSpans: readonly {
    readonly resource: { readonly attributes: readonly PbKeyValue[] } | null;
    readonly scopeSpans: readonly { readonly scope: { readonly name: string } | null; readonly spans: readonly PbSpan[] }[];
  }[];
}
interface PbType<T> {
  decode(body: Uint8Array): T;
}

const root = otlpRoot as unknown as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: PbType<PbRequest> } } } } };
};
/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest of the official definitions. */
export const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** The hex of a bytes id of exactly `length` bytes; '' for an absent one when `optional` (proto3 default). */
function idHex(bytes: Uint8Array | null, length: number, where: string, optional = false): string {
  const size = bytes?.length ?? 0;
  if (optional && size === 0) return '';
  assert.equal(size, length, `${where}: ${length} bytes`);
  return Buffer.from(bytes ?? []).toString('hex');
}

/** AnyValue's oneof: exactly the scalar kinds the agent sends (string, int64, double, bool). */
function pbAnyValue(value: PbAnyValue | null, where: string): AttributeValue {
  const kind = value?.value;
  if (kind === 'stringValue' && value?.stringValue !== null) return value?.stringValue ?? '';
  if (kind === 'intValue' && value?.intValue !== null) return Number(String(value?.intValue));
  if (kind === 'doubleValue' && value?.doubleValue !== null) return value?.doubleValue ?? 0;
  if (kind === 'boolValue' && value?.boolValue !== null) return value?.boolValue ?? false;
  return assert.fail(`${where}: unexpected AnyValue ${String(kind)}`);
}

function pbAttributes(list: readonly PbKeyValue[], where: string): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [i, kv] of list.entries()) out[kv.key] = pbAnyValue(kv.value, `${where}[${i}].value`);
  return out;
}

function pbSpan(s: PbSpan, where: string, resource: Record<string, AttributeValue>, scope: string): ReceivedSpan {
  return {
    resource,
    scope,
    traceId: idHex(s.traceId, 16, `${where}.traceId`),
    spanId: idHex(s.spanId, 8, `${where}.spanId`),
    parentSpanId: idHex(s.parentSpanId, 8, `${where}.parentSpanId`, true),
    name: s.name,
    kind: s.kind,
    startNs: BigInt(String(s.startTimeUnixNano)),
    endNs: BigInt(String(s.endTimeUnixNano)),
    attributes: pbAttributes(s.attributes, `${where}.attributes`),
    statusCode: s.status?.code ?? 0,
  };
}

/**
 * The spans of one ExportTraceServiceRequest in protobuf, decoded with the official definitions;
 * fails on a body they cannot read (wire types off the definitions, truncation), on ids of the
 * wrong length and on attribute values other than the scalars the agent sends.
 */
export function decodeProtobufExport(body: Uint8Array): ReceivedSpan[] {
  const request = ExportTraceServiceRequest.decode(body);
  const spans: ReceivedSpan[] = [];
  for (const [r, resourceSpans] of request.resourceSpans.entries()) {
    const resource = pbAttributes(resourceSpans.resource?.attributes ?? [], `resourceSpans[${r}].resource.attributes`);
    for (const [c, scopeSpans] of resourceSpans.scopeSpans.entries()) {
      const scope = scopeSpans.scope?.name ?? assert.fail(`resourceSpans[${r}].scopeSpans[${c}].scope`);
      for (const [i, item] of scopeSpans.spans.entries()) spans.push(pbSpan(item, `resourceSpans[${r}].scopeSpans[${c}].spans[${i}]`, resource, scope));
    }
  }
  return spans;
}
