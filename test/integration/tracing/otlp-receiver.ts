import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { fileScope } from '../../support/harness.js';

/*
 * An OTLP/HTTP trace receiver, standing in for the OpenTelemetry Collector (none is installable
 * here). The agent's exporter (@opentelemetry/exporter-trace-otlp-http) sends the OTLP/JSON
 * encoding: POST /v1/traces, Content-Type application/json, an ExportTraceServiceRequest as
 * mapped to JSON by the OTLP specification (opentelemetry-proto, trace/v1/trace.proto:
 * lower-camel field names, trace and span ids as hex, enums as integers, 64-bit times as
 * decimal strings). decodeExport checks each field against that mapping strictly.
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
export function decodeExport(body: string): ReceivedSpan[] {
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

/** A running receiver: every decoded span, and the requests as they came (path and content type). */
export interface OtlpReceiver {
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly requests: { path: string; method: string; contentType: string }[];
}

/** Cap of one export body here: the agent's batches are far smaller. */
const MAX_BODY = 8 * 1024 * 1024;

/** Starts a receiver on 127.0.0.1; it answers 200 with an empty ExportTraceServiceResponse ({}), stopped at the end of the file. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      requests.push({ path: req.url ?? '', method: req.method ?? '', contentType: req.headers['content-type'] ?? '' });
      spans.push(...decodeExport(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fileScope.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, requests };
}

/** A collector that accepts connections and never answers (the worst unreachable case: no quick refusal); returns its traces URL. */
export async function startSilentCollector(): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createTcpServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fileScope.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/v1/traces`, connections: () => count };
}
