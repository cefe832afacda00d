import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { describe, it, before } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import type { AgentStatus } from '../../../shared/status/index.js';
import { AgentMetrics, ControlMetrics, DEFAULT_MAX_SERIES_PER_METRIC, createRegistry, serveMetrics } from '../../../shared/telemetry/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { startHttpApp } from '../../support/apps.js';
import { agentAuthorization } from '../../support/agent-process.js';

/*
 * The label-cardinality attack of the hardening issue: a local app sends thousands of requests
 * with random `Host: svc-N-xxxx.mesh`. Each distinct name used to become a series of its own
 * (and a traffic pair of the status report) until the agent's /metrics weighed tens of megabytes.
 */

const ATTACK_REQUESTS = 5000;
const CAP = DEFAULT_MAX_SERIES_PER_METRIC;

/** The series (sample lines) of one metric name in an exposition, `_bucket`/`_sum`/`_count` excluded. */
function seriesOf(text: string, metric: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `));
}

/** The value of the one sample of `metric` carrying every label in `labels`. */
function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  const line = seriesOf(text, metric).find((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The sum of every series of `metric`. */
function total(text: string, metric: string): number {
  return seriesOf(text, metric).reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** The distinct destination_service values of the request counter. */
function destinations(text: string): string[] {
  return [...new Set(seriesOf(text, 'meridian_requests_total').map((line) => /destination_service="([^"]*)"/.exec(line)?.[1] ?? ''))].sort();
}

/** Every sample line of the exposition (comments excluded). */
function sampleLines(text: string): number {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  assert.equal(response.status, 200);
  return response.text();
}

/** `count` requests through the outbound listener, `concurrency` at a time on kept-alive connections; bounded in time too. */
async function flood(port: number, count: number, host: (i: number) => string): Promise<Map<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const statuses = new Map<number, number>();
  const deadline = Date.now() + 120_000;
  let next = 0;
  const one = (i: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent, headers: { host: host(i) }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const status = await one(next++);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
  return statuses;
}

describe('requests to services the catalog does not know', () => {
  let mesh: FederationMesh;
  let east: RunningAgent;
  let outboundPort: number;

  before(async () => {
    mesh = await startFederationMesh(['east', 'west'], { status: { interval: '300ms' } });
    east = await mesh.agent('east', 'east-1');
    const payments = await startHttpApp('payments', 'http');
    fileScope.after(() => payments.kill());
    outboundPort = await freePort();
    await east.registrar.register({ service: 'payments', ports: { http: payments.port } }, { kind: 'api' });
    await east.registrar.register({ service: 'frontend', ports: { http: 1 }, outbound: { http: outboundPort } }, { kind: 'api' });
    await eventually(async () => assert.deepEqual([...(await flood(outboundPort, 1, () => 'payments.mesh'))], [[200, 1]]), { timeoutMs: 20_000 });
  });

  it('are counted under destination_service="unknown": the exposition and the status report stay small', async (t) => {
    const before = await scrape(`${east.api.url}/metrics`, agentAuthorization(east));
    const tag = randomBytes(2).toString('hex');
    const statuses = await flood(outboundPort, ATTACK_REQUESTS, (i) => `svc-${i}-${tag}.mesh`);
    assert.deepEqual([...statuses], [[502, ATTACK_REQUESTS]], 'nobody runs these services');
    // Records are delivered when each response closes: wait until all of them are counted.
    const after = await eventually(async () => {
      const text = await scrape(`${east.api.url}/metrics`, agentAuthorization(east));
      assert.equal(total(text, 'meridian_requests_total') - total(before, 'meridian_requests_total'), ATTACK_REQUESTS);
      return text;
    });
    t.diagnostic(`attack: exposition ${before.length} -> ${after.length} bytes, sample lines ${sampleLines(before)} -> ${sampleLines(after)}`);
    const labels = { reporter: 'source', source_service: 'frontend', destination_site: 'unknown', destination_service: 'unknown', code: '502' };
    // The warm-up may have met a catalog that did not know payments yet: those count as unknown too.
    assert.equal((sample(after, 'meridian_requests_total', labels) ?? 0) - (sample(before, 'meridian_requests_total', labels) ?? 0), ATTACK_REQUESTS);
    assert.deepEqual(destinations(after), ['payments', 'unknown']);
    for (const metric of ['meridian_requests_total', 'meridian_request_duration_seconds_count']) {
      assert.ok(seriesOf(after, metric).length <= seriesOf(before, metric).length + 1, `${metric}: at most one new series, the unknown destinations`);
    }
    assert.ok(after.length < before.length + 8_000, `exposition grew from ${before.length} to ${after.length} bytes`);
    // The status report's traffic section: one pair for the unknown destinations, no pair per name.
    const traffic = await eventually(() => {
      const entry = mesh.controls.get('east')?.status.board.entries().find((e) => e.key === 'agent.east-1');
      const edges = (entry?.record as AgentStatus | undefined)?.traffic ?? [];
      assert.ok((edges.find((e) => e.peerService === 'unknown')?.requests ?? 0) >= ATTACK_REQUESTS);
      return edges;
    });
    assert.deepEqual([...new Set(traffic.map((e) => `${e.service}->${e.peerService}`))].sort(), ['frontend->payments', 'frontend->unknown']);
    assert.equal(traffic.find((e) => e.peerService === 'unknown')?.peerSite, '', 'answered by no site');
  });
});

describe('the series cap of every metric', () => {
  it(`folds label sets past ${CAP} per metric into one "other" series and counts them, nothing lost`, async (t) => {
    const metrics = new AgentMetrics(createRegistry({ role: 'agent', site: 'a', name: 'node-a' }), { site: 'a' });
    const server = await serveMetrics(metrics.registry, { port: 0 });
    fileScope.after(() => server.close());
    const distinct = 20_000;
    // Answered calls (a peer site is known): a catalog with this many services would not collapse them.
    for (let i = 0; i < distinct; i++) {
      metrics.observe({ direction: 'outbound', service: 'frontend', peerService: `svc-${i}`, peerSite: 'b', protocol: 'http', status: 200, durationMs: 2 });
    }
    const started = performance.now();
    const text = await scrape(server.url);
    const scrapeMs = Math.round(performance.now() - started);
    t.diagnostic(`cap: ${distinct} label sets -> exposition ${text.length} bytes, ${sampleLines(text)} sample lines, scrape ${scrapeMs} ms`);
    const requests = seriesOf(text, 'meridian_requests_total');
    assert.equal(requests.length, CAP + 1, 'the cap, plus the overflow series');
    assert.equal(sample(text, 'meridian_requests_total', { destination_service: 'other' }), distinct - CAP);
    assert.equal(seriesOf(text, 'meridian_request_duration_seconds_count').length, CAP + 1);
    assert.equal(total(text, 'meridian_requests_total'), distinct, 'every request is still counted');
    assert.equal(sample(text, 'meridian_metric_series_overflow_total', { metric: 'meridian_requests_total' }), distinct - CAP);
    assert.equal(sample(text, 'meridian_metric_series_overflow_total', { metric: 'meridian_request_duration_seconds' }), distinct - CAP);
    // Each label set is a counter line and a histogram of 15 buckets, _sum and _count: ~19 lines.
    assert.ok(sampleLines(text) < (CAP + 1) * 19 + 200, `${sampleLines(text)} sample lines`);
    assert.ok(text.length < 6_000_000, `exposition of ${text.length} bytes`);
  });

  it('caps gauges read at scrape time too: readings past the cap are left out and counted', async () => {
    const sites = Array.from({ length: CAP + 500 }, (_, i) => ({ site: `site-${i}`, instances: 1, ageMs: 10, stale: false, syncLagMs: null }));
    const metrics = new ControlMetrics(createRegistry({ role: 'control', site: 'a', name: 'a' }, { processMetrics: false }), { catalog: () => sites });
    const server = await serveMetrics(metrics.registry, { port: 0 });
    fileScope.after(() => server.close());
    const text = await scrape(server.url);
    assert.equal(seriesOf(text, 'meridian_catalog_instances').length, CAP);
    assert.equal(sample(text, 'meridian_metric_series_overflow_total', { metric: 'meridian_catalog_instances' }), 500);
    // The next scrape leaves the same readings out again: the counter says how many per scrape, cumulatively.
    const again = await scrape(server.url);
    assert.equal(sample(again, 'meridian_metric_series_overflow_total', { metric: 'meridian_catalog_instances' }), 1000);
  });

  it('takes its cap from the registry: createRegistry({ maxSeriesPerMetric })', async () => {
    const metrics = new AgentMetrics(createRegistry({ role: 'agent', site: 'a', name: 'node-a' }, { processMetrics: false, maxSeriesPerMetric: 3 }), { site: 'a' });
    for (const peerService of ['one', 'two', 'three', 'four', 'five', 'one']) {
      metrics.observe({ direction: 'inbound', service: 'payments', peerService, peerSite: 'b', protocol: 'http', status: 200, durationMs: 1 });
    }
    const text = await metrics.registry.metrics();
    // Past the cap every label but the reporter is "other", the local service included.
    assert.deepEqual(destinations(text), ['other', 'payments']);
    const sources = seriesOf(text, 'meridian_requests_total').map((line) => `${/source_service="([^"]*)"/.exec(line)?.[1] ?? ''}=${line.slice(line.lastIndexOf(' ') + 1)}`);
    assert.deepEqual(sources.sort(), ['one=2', 'other=2', 'three=1', 'two=1']);
  });

  it('refuses a cap that is not a positive integer, naming the option', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => createRegistry({ role: 'agent', site: 'a', name: 'n' }, { maxSeriesPerMetric: bad }), {
        code: 'MERIDIAN_ERR_BAD_ARGUMENT',
        message: `createRegistry: maxSeriesPerMetric must be a positive integer, got ${String(bad)}`,
      });
    }
  });
});
