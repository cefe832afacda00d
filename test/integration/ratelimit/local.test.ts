/**
 * Local rate limits (issue #13) at a destination agent's inbound, over real mTLS HTTP/2 and gRPC:
 * a token bucket's burst and rate, per caller when asked, only for the requests the limit
 * matches; 429 with retry-after and the Meridian code, gRPC RESOURCE_EXHAUSTED; counted in
 * `meridian_rate_limited_total{service, limit}` and the access log's `limit`.
 */
import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { accessLogLine, RequestTelemetry } from '../../../agent/telemetry/index.js';
import { AgentMetrics, createRegistry, exposition } from '../../../shared/telemetry/index.js';
import { ECHO_SERVICE, startGrpcApp, startHttpApp, type TestApp } from '../../support/apps.js';
import { bodyJson, h2, type Reply } from '../../support/clients.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { mtlsH2, TestTrustDomain } from '../../support/pki/index.js';
import { TestPolicy } from '../../support/policy.js';

const TD = 'spiffe://acme.internal';
const POLICY = `kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: allow}
---
kind: RateLimit
metadata: {name: ledger-writes}
spec:
  service: ledger
  match: {methods: [POST], paths: [{prefix: /api/}], from: ['${TD}/site/*/svc/orders']}
  local: {rate: 5, per: 1s, burst: 3}
---
kind: RateLimit
metadata: {name: ledger-per-caller}
spec:
  service: ledger
  match: {paths: [{prefix: /reports}]}
  local: {rate: 1, per: 1m, burst: 2, by: caller}
---
kind: RateLimit
metadata: {name: echo-calls}
spec: {service: echo, local: {rate: 1, per: 1m, burst: 1}}
`;

describe('local rate limits at the inbound', () => {
  const pki = new TestTrustDomain();
  const policy = new TestPolicy();
  const lines: string[] = [];
  const metrics = new AgentMetrics(createRegistry({ role: 'agent', site: 'eu', name: 'node-eu' }), { site: 'eu' });
  const telemetry = new RequestTelemetry('eu', { metrics, accessLog: { write: (record, site) => lines.push(accessLogLine(record, site)), close: () => Promise.resolve() } });
  let ledger: TestApp;
  let grpcApp: { port: number; close: () => void };
  let node: InboundProxy;
  let caller: OutboundProxy;
  let orders: ClientHttp2Session;
  let web: ClientHttp2Session;

  before(async () => {
    policy.apply(POLICY);
    ledger = await startHttpApp('ledger', 'http');
    grpcApp = await startGrpcApp();
    node = await startNode(
      pki,
      'eu',
      { ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http', exported: true }, echo: { address: '127.0.0.1', port: grpcApp.port, protocol: 'grpc' } },
      { policy: policy.live, onRequest: telemetry.observe },
    );
    orders = (await mtlsH2(node.port, pki.identity('eu', 'svc', 'orders'), 'ledger')).session;
    web = (await mtlsH2(node.port, pki.identity('eu', 'svc', 'web'), 'ledger')).session;
    const catalog = new TestCatalog();
    catalog.add({ service: 'echo', instanceId: 'echo-1', site: 'eu', meshPort: node.port, protocol: 'grpc' });
    caller = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
  });
  after(async () => {
    orders.close();
    web.close();
    await caller.close(1000);
    await node.close(1000);
    await ledger.kill();
    grpcApp.close();
  });

  const post = (session: ClientHttp2Session, path: string, method = 'POST'): Promise<Reply> => h2(session, { ':authority': 'ledger.mesh', ':method': method, ':path': path });

  it('admits the burst, then refuses with 429, retry-after and the code, and admits again at the rate; unmatched requests pass', async () => {
    const burst = await Promise.all([1, 2, 3, 4].map(() => post(orders, '/api/pay')));
    assert.deepEqual(burst.map((r) => r.status).sort(), [200, 200, 200, 429]);
    const refused = burst.find((r) => r.status === 429) ?? assert.fail();
    assert.equal(refused.headers['retry-after'], '1');
    assert.deepEqual(bodyJson(refused), { code: 'MERIDIAN_ERR_RATE_LIMITED', message: 'rate limit "ledger-writes" (local) exceeded' });
    // Not matched: another method, another path, another caller.
    for (const reply of [await post(orders, '/api/pay', 'GET'), await post(orders, '/other'), await post(web, '/api/pay')]) assert.equal(reply.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 220)); // 5/s: one token back after 200 ms
    assert.equal((await post(orders, '/api/pay')).status, 200);
    assert.equal((await post(orders, '/api/pay')).status, 429);
  });

  it('counts each caller apart with by: caller', async () => {
    assert.deepEqual([(await post(orders, '/reports')).status, (await post(orders, '/reports')).status, (await post(orders, '/reports')).status], [200, 200, 429]);
    assert.equal((await post(web, '/reports')).status, 200);
  });

  it('answers gRPC callers RESOURCE_EXHAUSTED', async () => {
    const client = new Client(`127.0.0.1:${caller.httpPort ?? 0}`, credentials.createInsecure(), { 'grpc.default_authority': 'echo.mesh' });
    try {
      const unary = ECHO_SERVICE.unary;
      const callOnce = (): Promise<ServiceError | undefined> =>
        new Promise((resolve) => client.makeUnaryRequest(unary.path, unary.requestSerialize, unary.responseDeserialize, { message: 'hi' }, new Metadata(), {}, (error) => resolve(error ?? undefined)));
      assert.equal(await callOnce(), undefined);
      const error = (await callOnce()) ?? assert.fail('the second call was admitted');
      assert.equal(error.code, status.RESOURCE_EXHAUSTED);
      assert.match(error.details, /rate limit "echo-calls" \(local\) exceeded/u);
    } finally {
      client.close();
    }
  });

  it('counts refusals in meridian_rate_limited_total{service, limit} and names the limit in the access log', async () => {
    const body = (await exposition(metrics.registry)).body;
    assert.match(body, /meridian_rate_limited_total\{service="ledger",limit="ledger-writes"[^}]*\} 2/u);
    assert.match(body, /meridian_rate_limited_total\{service="ledger",limit="ledger-per-caller"[^}]*\} 1/u);
    assert.match(body, /meridian_rate_limited_total\{service="echo",limit="echo-calls"[^}]*\} 1/u);
    const limited = lines.map((line) => JSON.parse(line) as { status: number; limit?: string; rule?: string }).filter((entry) => entry.status === 429);
    assert.equal(limited.length, 3);
    assert.deepEqual(new Set(limited.map((entry) => entry.limit)), new Set(['ledger-writes', 'ledger-per-caller']));
    assert.ok(limited.every((entry) => entry.rule === undefined));
    assert.equal(telemetry.rateLimited, 4);
  });
});
