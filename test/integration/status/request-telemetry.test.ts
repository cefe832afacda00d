import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { startHttpApp, type Seen } from '../../support/apps.js';
import { agentAuthorization } from '../../support/agent-process.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const FORMAT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

let mesh: FederationMesh;
let east: RunningAgent;
let outboundPort: number;
let eastLog: string;
let westLog: string;

function call(path: string, headers: Record<string, string> = {}): Promise<{ status: number; seen: Seen | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: outboundPort, path, headers: { host: 'payments.mesh', ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, seen: res.headers['x-app'] === 'payments' ? (JSON.parse(body) as Seen) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface AccessLine {
  reporter: string;
  source: { site: string; service: string };
  destination: { site: string; service: string };
  protocol: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  traceId: string;
  spanId: string;
}

const linesOf = (file: string): AccessLine[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AccessLine);

/** The value of the one sample of `metric` carrying every label in `labels`. */
function sample(exposition: string, metric: string, labels: Record<string, string>): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${metric}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

before(async () => {
  mesh = await startFederationMesh(['east', 'west'], { status: { interval: '300ms' } });
  eastLog = join(mesh.dir, 'logs', 'east-access.jsonl');
  westLog = join(mesh.dir, 'logs', 'west-access.jsonl');
  let west: RunningAgent;
  [east, west] = await Promise.all([mesh.agent('east', 'east-1', { accessLog: eastLog }), mesh.agent('west', 'west-1', { accessLog: westLog })]);
  const payments = await startHttpApp('payments', 'http');
  fileScope.after(() => payments.kill());
  outboundPort = await freePort();
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  await east.registrar.register({ service: 'frontend', ports: { http: 1 }, outbound: { http: outboundPort } }, { kind: 'api' });
  await eventually(async () => assert.equal((await call('/warm-up')).status, 200), { timeoutMs: 20_000 });
});

describe('W3C trace context across sites', () => {
  it("keeps the caller's trace id, with a new span id per hop", async () => {
    const { status, seen } = await call('/traced', { traceparent: TRACEPARENT });
    assert.equal(status, 200);
    const received = String(seen?.headers.traceparent);
    assert.match(received, FORMAT);
    assert.equal(received.split('-')[1], TRACE_ID);
    assert.notEqual(received.split('-')[2], '00f067aa0ba902b7');
  });

  it('starts a sampled trace when the caller sent none, or an invalid one', async () => {
    for (const headers of [{}, { traceparent: `ff-${TRACE_ID}-00f067aa0ba902b7-01` }, { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }]) {
      const { seen } = await call('/untraced', headers);
      const received = String(seen?.headers.traceparent);
      assert.match(received, FORMAT);
      assert.notEqual(received.split('-')[1], TRACE_ID);
    }
  });
});

describe('access logs and metrics', () => {
  it('both agents log the call as JSON lines with the same trace id: the source side and the destination side', async () => {
    assert.equal((await call('/logged?x=1', { traceparent: TRACEPARENT })).status, 200);
    assert.equal((await call('/status?code=503', { traceparent: TRACEPARENT })).status, 503);
    const pick = (file: string): AccessLine[] => linesOf(file).filter((l) => l.traceId === TRACE_ID && l.path !== '/traced');
    const [sourceLines, destinationLines] = await eventually(() => {
      const found = [pick(eastLog), pick(westLog)] as const;
      assert.deepEqual(found.map((lines) => lines.length), [2, 2]);
      return found;
    });
    const shape = (l: AccessLine): unknown[] => [l.reporter, l.source, l.destination, l.protocol, l.method, l.path, l.status];
    const route = { source: { site: 'east', service: 'frontend' }, destination: { site: 'west', service: 'payments' } };
    assert.deepEqual(sourceLines.map(shape), [
      ['source', route.source, route.destination, 'http', 'GET', '/logged?x=1', 200],
      ['source', route.source, route.destination, 'http', 'GET', '/status?code=503', 503],
    ]);
    assert.deepEqual(destinationLines.map(shape), [
      ['destination', route.source, route.destination, 'http', 'GET', '/logged?x=1', 200],
      ['destination', route.source, route.destination, 'http', 'GET', '/status?code=503', 503],
    ]);
    for (const line of [...sourceLines, ...destinationLines]) assert.ok(line.durationMs >= 0 && /^[0-9a-f]{16}$/.test(line.spanId));
    assert.notEqual(sourceLines[0]?.spanId, destinationLines[0]?.spanId, 'each hop its own span');
  });

  it("the agent's /metrics counts requests by source and destination site, service and code, as the access log does", async () => {
    const text = await (await fetch(`${east.api.url}/metrics`, { headers: agentAuthorization(east) })).text();
    // Calls that found no instance yet (while the catalog warmed up) count with destination site "unknown".
    const lines = linesOf(eastLog).filter((l) => l.destination.site === 'west');
    const labels = { reporter: 'source', source_site: 'east', source_service: 'frontend', destination_site: 'west', destination_service: 'payments' };
    for (const code of [200, 503]) {
      assert.equal(sample(text, 'meridian_requests_total', { ...labels, code: String(code) }), lines.filter((l) => l.status === code).length, `code ${code}`);
    }
    assert.equal(sample(text, 'meridian_request_duration_seconds_count', labels), lines.length);
    assert.ok((sample(text, 'meridian_certificate_expiry_timestamp_seconds', { role: 'workload', identity: 'spiffe://acme.internal/site/east/svc/frontend' }) ?? 0) > Date.now() / 1000);
    // No policy set published: version 0 (versions start at 1), nothing refused.
    assert.equal(sample(text, 'meridian_policy_version', {}), 0);
    assert.equal(sample(text, 'meridian_policy_rejections_total', {}), 0);
    const west = await (await fetch(`${mesh.gateways.get('east')?.metricsUrl ?? ''}`)).text();
    assert.equal(sample(west, 'meridian_tunnel_up', { peer_site: 'west' }), 1);
    assert.ok((sample(west, 'meridian_tunnel_bytes_total', { peer_site: 'west', direction: 'out' }) ?? 0) > 0);
  });
});
