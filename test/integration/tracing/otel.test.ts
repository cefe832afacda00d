import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { startHttpApp, type Seen } from '../../support/apps.js';
import { agentAuthorization } from '../../support/agent-process.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { freePort } from '../../support/servers/index.js';
import { SPAN_KIND, STATUS_CODE, startOtlpReceiver, startSilentCollector, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

/*
 * Traces of a real two-site mesh (NATS supercluster, control services, gateways, agents, apps),
 * exported by the agents over OTLP/HTTP to a receiver in this test (no OpenTelemetry Collector
 * is installable here).
 */

interface Reply {
  readonly status: number;
  readonly seen: Seen | undefined;
  readonly ms: number;
}

/** One GET through a caller's outbound listener, with the app's own traceparent when given. */
function call(port: number, host: string, traceparent?: string): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, ...(traceparent === undefined ? {} : { traceparent }) };
    const req = request({ host: '127.0.0.1', port, path: '/orders?card=secret', headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const seen = res.statusCode === 200 ? (JSON.parse(body) as Seen) : undefined;
        resolve({ status: res.statusCode ?? 0, seen, ms: performance.now() - started });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const spanIdOf = (traceparent: unknown): string => String(traceparent).split('-')[2] ?? '';

function spansOf(receiver: OtlpReceiver, traceId: string): ReceivedSpan[] {
  return receiver.spans.filter((s) => s.traceId === traceId);
}

/** Tracing config with a short batch delay, so that the test waits little. */
const fast = (otlpEndpoint: string, extra: Record<string, unknown> = {}): { otlpEndpoint: string; scheduledDelay: string } => ({ otlpEndpoint, scheduledDelay: '100ms', ...extra });

describe('OpenTelemetry traces across sites', () => {
  let mesh: FederationMesh;
  let receiver: OtlpReceiver;
  let east: RunningAgent;
  let west: RunningAgent;
  const ports = { frontend: 0, batch: 0, shop: 0, legacy: 0 };

  before(async () => {
    receiver = await startOtlpReceiver();
    mesh = await startFederationMesh(['east', 'west']);
    west = await mesh.agent('west', 'west-1', { tracing: fast(receiver.url) });
    east = await mesh.agent('east', 'east-1', { tracing: fast(receiver.url) });
    const payments = await startHttpApp('payments', 'http');
    fileScope.after(() => payments.kill());
    await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
    ports.frontend = await freePort();
    await east.registrar.register({ service: 'frontend', ports: { http: 1 }, outbound: { http: ports.frontend } }, { kind: 'api' });
    await eventually(async () => assert.equal((await call(ports.frontend, 'payments.mesh')).status, 200), { timeoutMs: 30_000 });
  });

  it('one call across sites is one trace: the app\'s span -> client span at east\'s agent -> server span at west\'s agent -> the app', async () => {
    const traceId = hex(16);
    const appSpan = hex(8);
    const reply = await call(ports.frontend, 'payments.mesh', `00-${traceId}-${appSpan}-01`);
    assert.equal(reply.status, 200);
    const delivered = reply.seen?.headers.traceparent;
    assert.match(String(delivered), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), 'propagation as before: same trace, new span id, same flags');
    const spans = await eventually(() => {
      const found = spansOf(receiver, traceId);
      assert.equal(found.length, 2);
      return found;
    });
    const client = spans.find((s) => s.kind === SPAN_KIND.CLIENT) ?? assert.fail('no client span');
    const server = spans.find((s) => s.kind === SPAN_KIND.SERVER) ?? assert.fail('no server span');
    assert.equal(client.parentSpanId, appSpan, "the client span's parent is the calling app's span");
    assert.equal(server.parentSpanId, client.spanId, "the server span's parent is east's client span");
    assert.equal(server.spanId, spanIdOf(delivered), "the app's traceparent names the server span: the app's own spans join the trace");
    assert.deepEqual(
      [client.resource['service.name'], client.resource['meridian.site'], client.resource['meridian.node']],
      ['frontend', 'east', 'east-1'],
    );
    assert.deepEqual([server.resource['service.name'], server.resource['meridian.site'], server.resource['meridian.node']], ['payments', 'west', 'west-1']);
    assert.equal(client.name, 'GET');
    assert.deepEqual(client.attributes, {
      'http.request.method': 'GET',
      'url.path': '/orders',
      'http.response.status_code': 200,
      'meridian.peer.service': 'payments',
      'meridian.peer.site': 'west',
      'server.address': 'payments.mesh',
    });
    assert.deepEqual(server.attributes, {
      'http.request.method': 'GET',
      'url.path': '/orders',
      'http.response.status_code': 200,
      'meridian.peer.service': 'frontend',
      'meridian.peer.site': 'east',
    });
    assert.equal(client.statusCode, STATUS_CODE.UNSET);
    assert.ok(client.startNs <= server.startNs && server.endNs <= client.endNs + 1_000_000n, 'the server span lies within the client span (ms clocks)');
    assert.ok(receiver.requests.every((r) => r.method === 'POST' && r.path === '/v1/traces' && r.contentType === 'application/x-protobuf'), 'OTLP/HTTP protobuf by default');
  });

  it('a call without a traceparent starts the trace at the calling agent: its client span is the root', async () => {
    const reply = await call(ports.frontend, 'payments.mesh');
    const delivered = String(reply.seen?.headers.traceparent);
    const traceId = delivered.split('-')[1] ?? '';
    const spans = await eventually(() => {
      const found = spansOf(receiver, traceId);
      assert.equal(found.length, 2);
      return found;
    });
    const client = spans.find((s) => s.kind === SPAN_KIND.CLIENT) ?? assert.fail('no client span');
    const server = spans.find((s) => s.kind === SPAN_KIND.SERVER) ?? assert.fail('no server span');
    assert.equal(client.parentSpanId, '');
    assert.equal(server.parentSpanId, client.spanId);
    assert.equal(server.spanId, spanIdOf(delivered));
  });

  it("an unsampled caller (flags 00) is not recorded, and its traceparent goes on unchanged in flags", async () => {
    const traceId = hex(16);
    const reply = await call(ports.frontend, 'payments.mesh', `00-${traceId}-${hex(8)}-00`);
    assert.match(String(reply.seen?.headers.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    // A sampled call after it: once its spans are in, the unsampled ones would have been too.
    const marker = hex(16);
    await call(ports.frontend, 'payments.mesh', `00-${marker}-${hex(8)}-01`);
    await eventually(() => assert.equal(spansOf(receiver, marker).length, 2));
    assert.equal(spansOf(receiver, traceId).length, 0);
  });

  it("protocol 'http/json' exports OTLP/JSON, and its spans join the trace of agents exporting protobuf", async () => {
    const jsonReceiver = await startOtlpReceiver();
    const legacy = await mesh.agent('east', 'east-4', { tracing: fast(jsonReceiver.url, { protocol: 'http/json' }) });
    ports.legacy = await freePort();
    await legacy.registrar.register({ service: 'legacy', ports: { http: 1 }, outbound: { http: ports.legacy } }, { kind: 'api' });
    await eventually(async () => assert.equal((await call(ports.legacy, 'payments.mesh')).status, 200), { timeoutMs: 30_000 });
    const traceId = hex(16);
    const appSpan = hex(8);
    const reply = await call(ports.legacy, 'payments.mesh', `00-${traceId}-${appSpan}-01`);
    assert.equal(reply.status, 200);
    const client = await eventually(() => spansOf(jsonReceiver, traceId)[0] ?? assert.fail('no client span yet'));
    const server = await eventually(() => spansOf(receiver, traceId)[0] ?? assert.fail('no server span yet'));
    assert.equal(spansOf(jsonReceiver, traceId).length, 1);
    assert.equal(client.kind, SPAN_KIND.CLIENT);
    assert.equal(client.parentSpanId, appSpan);
    assert.deepEqual([client.resource['service.name'], client.resource['meridian.node']], ['legacy', 'east-4']);
    assert.equal(server.kind, SPAN_KIND.SERVER);
    assert.equal(server.parentSpanId, client.spanId, "west's server span (protobuf) names east-4's client span (JSON) as its parent");
    assert.equal(server.spanId, spanIdOf(reply.seen?.headers.traceparent));
    assert.ok(jsonReceiver.requests.length > 0 && jsonReceiver.requests.every((r) => r.method === 'POST' && r.path === '/v1/traces' && r.contentType === 'application/json'));
  });

  it('sampleRatio 0 exports nothing, and the calls still succeed', async () => {
    const silentReceiver = await startOtlpReceiver();
    const batch = await mesh.agent('east', 'east-2', { tracing: fast(silentReceiver.url, { sampleRatio: 0 }) });
    ports.batch = await freePort();
    await batch.registrar.register({ service: 'batch', ports: { http: 1 }, outbound: { http: ports.batch } }, { kind: 'api' });
    await eventually(async () => assert.equal((await call(ports.batch, 'payments.mesh')).status, 200), { timeoutMs: 30_000 });
    for (let i = 0; i < 20; i++) assert.equal((await call(ports.batch, 'payments.mesh', `00-${hex(16)}-${hex(8)}-01`)).status, 200);
    await batch.tracing?.stop();
    assert.deepEqual(silentReceiver.requests, [], 'no export request at all, even at the final flush');
    assert.deepEqual(batch.tracing?.stats(), { exported: 0, dropped: 0, failed: 0 });
  });

  it('a collector that never answers neither slows nor breaks traffic: the queue stays bounded and drops are counted', async (t) => {
    const silent = await startSilentCollector();
    const shop = await mesh.agent('east', 'east-3', { tracing: fast(silent.url, { maxQueueSize: 8, maxExportBatchSize: 4, exportTimeout: '2s' }) });
    ports.shop = await freePort();
    await shop.registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: ports.shop } }, { kind: 'api' });
    await eventually(async () => assert.equal((await call(ports.shop, 'payments.mesh')).status, 200), { timeoutMs: 30_000 });
    const calls = 200;
    const traced: number[] = [];
    const untraced: number[] = [];
    // Interleaved with the same calls from east-1 (whose collector answers), so both see the same machine load.
    for (let i = 0; i < calls; i++) {
      const a = await call(ports.shop, 'payments.mesh');
      const b = await call(ports.frontend, 'payments.mesh');
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      traced.push(a.ms);
      untraced.push(b.ms);
    }
    const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
    t.diagnostic(`median ms: silent collector ${median(traced).toFixed(2)}, answering collector ${median(untraced).toFixed(2)}; max ${Math.max(...traced).toFixed(1)} vs ${Math.max(...untraced).toFixed(1)}`);
    assert.ok(median(traced) < median(untraced) * 2 + 2, 'no slower than the calls of an agent whose collector answers');
    assert.ok(silent.connections() >= 1, 'the exporter did try the collector');
    const stats = shop.tracing?.stats() ?? assert.fail('tracing on');
    // At most the queue (8) and the batches in flight (4 each) are held; the rest of the 201 spans are dropped.
    assert.ok(stats.dropped >= calls - 8 - 3 * 4, `dropped ${stats.dropped}`);
    assert.equal(stats.exported, 0);
    const metrics = await (await fetch(`${shop.api.url}/metrics`, { headers: agentAuthorization(shop) })).text();
    const dropped = /^meridian_trace_spans_total\{[^}]*outcome="dropped"[^}]*\} (\d+)$/m.exec(metrics)?.[1];
    assert.ok(Number(dropped) >= stats.dropped, `the drops are on /metrics: ${String(dropped)}`);
    const started = performance.now();
    await shop.tracing?.stop();
    const stopMs = performance.now() - started;
    assert.ok(stopMs < 2_000 + 1_000, `the final flush gives up within the export timeout: ${stopMs.toFixed(0)} ms`);
  });
});
