import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../gateway/index.js';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import { pollUntil, startPrometheus, type PrometheusHandle, type PrometheusSample } from '../../support/servers/index.js';
import {
  AgentMetrics,
  GatewayMetrics,
  createRegistry,
  serveMetrics,
  type CertificateSample,
  type MetricsServer,
} from '../../../shared/telemetry/index.js';
import { instance, startCaller, startGateways, startNode, TestCatalog, type GatewayMesh } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { h1 } from '../../support/clients.js';

/*
 * Real traffic through the real data path: frontend (site a) → outbound proxy → gateway a ═ mTLS
 * tunnel ═ gateway b → inbound proxy (site b) → payments app. Each proxy feeds its own agent
 * registry, gateway a feeds a gateway registry, and a real Prometheus scrapes all of them.
 */

const TOKEN = 'scrape-secret-token';
const pki = new TestTrustDomain();
const frontendIdentity = pki.identity('a', 'svc', 'frontend');
const PAYMENTS = { service: 'payments', instanceId: 'payments-1', site: 'b' } as const;

function certificate(role: CertificateSample['role'], id: MtlsIdentity): CertificateSample {
  const [leaf] = id.chain;
  assert.ok(leaf);
  return { role, identity: (leaf.subjectAltName ?? '').replace(/^URI:/, ''), notAfter: new Date(leaf.validTo).toISOString() };
}

/** One line per series, for exact comparisons that read well in a failure. */
function requestLines(samples: readonly PrometheusSample[], code = true): string[] {
  return samples
    .map(({ metric: m, value }) => {
      const head = `${m['reporter']} ${m['source_site']}/${m['source_service']} -> ${m['destination_site']}/${m['destination_service']}`;
      return `${head}${code ? ` ${m['code']}` : ''} @${m['site']}/${m['component']}/${m['name']} = ${value}`;
    })
    .sort();
}

describe('Prometheus metrics, scraped by a real Prometheus from real cross-site traffic', () => {
  let app: TestApp;
  let mesh: GatewayMesh;
  let inbound: InboundProxy;
  let outbound: OutboundProxy;
  let prometheus: PrometheusHandle;
  const servers: MetricsServer[] = [];
  const sent: number[] = [];

  async function eventually(promql: string, ok: (samples: PrometheusSample[]) => boolean): Promise<PrometheusSample[]> {
    return pollUntil(async () => {
      const samples = await prometheus.query(promql);
      return ok(samples) ? samples : undefined;
    }, { what: `prometheus to answer ${promql} as expected`, timeoutMs: 15_000, intervalMs: 200 });
  }

  /** The destination node in site b: its inbound proxy in front of the payments app, and site b's gateway. */
  async function startDestination(): Promise<AgentMetrics> {
    app = await startHttpApp('payments', 'http');
    const agentB = new AgentMetrics(createRegistry({ role: 'agent', site: 'b', name: 'node-b' }), { site: 'b' });
    inbound = await startNode(pki, 'b', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http', exported: true } }, { onRequest: agentB.observe });
    mesh = await startGateways(pki, { instances: { b: [instance({ ...PAYMENTS, meshPort: inbound.port })] }, tuning: { pingIntervalMs: 200 }, sites: ['a', 'b'] });
    return agentB;
  }

  /** The calling node in site a: frontend's outbound proxy, dialing through gateway a. */
  async function startSource(): Promise<AgentMetrics> {
    const catalog = new TestCatalog();
    catalog.add({ ...PAYMENTS, meshPort: inbound.port });
    const agentA = new AgentMetrics(createRegistry({ role: 'agent', site: 'a', name: 'node-a' }), {
      site: 'a',
      certificates: () => [certificate('workload', frontendIdentity)],
      failovers: () => outbound.failovers(),
      // What a follower reports after refusing version 8 (a set it could not parse) and keeping 7.
      policy: () => ({ version: 7, rejected: { version: 8, reason: 'Authorization deny-all: spec.service is required' } }),
      catalog: () => [{ site: 'b', instances: catalog.candidates('payments').length, ageMs: 1500, stale: false, syncLagMs: null }],
    });
    outbound = await startCaller(pki, catalog, { site: 'a', service: 'frontend' }, { identity: frontendIdentity, dialer: mesh.agentDialer('a'), onRequest: agentA.observe });
    return agentA;
  }

  function gatewayMetrics(gatewayA: Gateway): GatewayMetrics {
    return new GatewayMetrics(createRegistry({ role: 'gateway', site: 'a', name: 'gw-a' }), {
      links: () => gatewayA.links().map((l) => ({ peerSite: l.site, state: l.state, rttMs: l.rttMs ?? null, bytesIn: l.bytesIn, bytesOut: l.bytesOut, streams: l.streams })),
      stats: () => {
        const { streams } = gatewayA.stats();
        return { streamsActive: streams.active, streamsTotal: streams.total, rejections: streams.refused };
      },
      certificates: () => [certificate('gateway', mesh.identities.a)],
    });
  }

  /** 5 × 200 and 2 × 503 from the app in site b, and 1 call to a service nobody runs (502 at the source). */
  async function driveTraffic(agentA: AgentMetrics, agentB: AgentMetrics): Promise<void> {
    const port = outbound.httpPort ?? 0;
    for (const path of ['/', '/', '/', '/', '/', '/status?code=503', '/status?code=503']) sent.push((await h1(port, { host: 'payments.mesh', path })).status);
    sent.push((await h1(port, { host: 'ghost.mesh' })).status);
    // Records are delivered when each response closes: wait until both proxies reported all of them.
    const total = async (metrics: AgentMetrics): Promise<number> =>
      ((await metrics.registry.getSingleMetric('meridian_requests_total')?.get())?.values ?? []).reduce((sum, v) => sum + v.value, 0);
    await pollUntil(async () => ((await total(agentA)) === 8 && (await total(agentB)) === 7 ? true : undefined), { what: 'all request records', timeoutMs: 5000 });
  }

  before(async () => {
    const agentB = await startDestination();
    const agentA = await startSource();
    const gateway = gatewayMetrics(mesh.gateways.a);
    await driveTraffic(agentA, agentB);
    servers.push(await serveMetrics(agentA.registry, { port: 0 }), await serveMetrics(agentB.registry, { port: 0 }));
    servers.push(await serveMetrics(gateway.registry, { port: 0, bearerToken: TOKEN }));
    const [a, b, gw] = servers.map((s) => s.url);
    prometheus = await startPrometheus({
      scrapeIntervalMs: 1000,
      targets: [
        { job: 'agent', url: a ?? '' },
        { job: 'agent', url: b ?? '' },
        { job: 'gateway', url: gw ?? '', bearerToken: TOKEN },
        { job: 'gateway-wrong-token', url: gw ?? '', bearerToken: 'not-the-token' },
      ],
    });
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all(servers.map((s) => s.close()));
    await outbound?.close(1000);
    await inbound?.close(1000);
    await mesh?.close();
    await app?.kill();
  });

  it('the traffic itself got the expected answers', () => {
    assert.deepEqual(sent, [200, 200, 200, 200, 200, 503, 503, 502]);
  });

  it('scrapes every target; the token-protected one only with the right token', async () => {
    const targets = await pollUntil(async () => {
      const all = await prometheus.targets();
      return all.length === 4 && all.every((t) => t.health !== 'unknown') ? all : undefined;
    }, { what: 'a first scrape of all 4 targets', timeoutMs: 20_000, intervalMs: 200 });
    const byJob = targets.map((t) => `${t.job} ${t.health}`).sort();
    assert.deepEqual(byJob, ['agent up', 'agent up', 'gateway up', 'gateway-wrong-token down']);
    const wrong = targets.find((t) => t.job === 'gateway-wrong-token');
    assert.match(wrong?.lastError ?? '', /401/);
    assert.equal(targets.find((t) => t.job === 'gateway')?.lastError, '');
    const up = await prometheus.query('up');
    assert.deepEqual(up.map((s) => `${s.metric['job']}=${s.value}`).sort(), ['agent=1', 'agent=1', 'gateway-wrong-token=0', 'gateway=1']);
  });

  it('counts requests by source and destination site and service and code, as each proxy saw them', async () => {
    const samples = await eventually('meridian_requests_total', (s) => s.length === 5);
    assert.deepEqual(requestLines(samples), [
      'destination a/frontend -> b/payments 200 @b/agent/node-b = 5',
      'destination a/frontend -> b/payments 503 @b/agent/node-b = 2',
      'source a/frontend -> b/payments 200 @a/agent/node-a = 5',
      'source a/frontend -> b/payments 503 @a/agent/node-a = 2',
      'source a/frontend -> unknown/ghost 502 @a/agent/node-a = 1',
    ]);
    const errors = await prometheus.query('sum by (reporter) (meridian_requests_total{code=~"5.."})');
    assert.deepEqual(errors.map((s) => `${s.metric['reporter']}=${s.value}`).sort(), ['destination=2', 'source=3']);
  });

  it('records request durations as a histogram with _bucket, _sum and _count series', async () => {
    const counts = await eventually('meridian_request_duration_seconds_count', (s) => s.length === 3);
    assert.deepEqual(requestLines(counts, false), [
      'destination a/frontend -> b/payments @b/agent/node-b = 7',
      'source a/frontend -> b/payments @a/agent/node-a = 7',
      'source a/frontend -> unknown/ghost @a/agent/node-a = 1',
    ]);
    const buckets = await prometheus.query('meridian_request_duration_seconds_bucket{reporter="source", destination_service="payments"}');
    assert.deepEqual(buckets.map((s) => s['metric']['le']).sort(), ['+Inf', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '10', '2.5', '5'].sort());
    assert.equal(buckets.find((s) => s.metric['le'] === '+Inf')?.value, 7);
    // Cumulative buckets never decrease as `le` grows.
    const ordered = [...buckets].sort((x, y) => Number(x.metric['le'] === '+Inf' ? Infinity : x.metric['le']) - Number(y.metric['le'] === '+Inf' ? Infinity : y.metric['le']));
    ordered.reduce((previous, s) => (assert.ok(s.value >= previous), s.value), 0);
    const sums = await prometheus.query('meridian_request_duration_seconds_sum{reporter="source", destination_service="payments"}');
    assert.ok((sums[0]?.value ?? 0) > 0, 'seven cross-site round trips took some time');
  });

  it("reports the gateway's tunnel state, bytes and stream counters", async () => {
    const value = async (promql: string): Promise<number | undefined> => (await eventually(promql, (s) => s.length === 1))[0]?.value;
    assert.equal(await value('meridian_tunnel_up{job="gateway", peer_site="b"}'), 1);
    const states = await prometheus.query('meridian_tunnel_state{job="gateway", peer_site="b"}');
    assert.deepEqual(states.map((s) => `${s.metric['state']}=${s.value}`).sort(), ['connecting=0', 'down=0', 'up=1']);
    const [link] = mesh.gateways.a.links();
    for (const direction of ['in', 'out'] as const) {
      const bytes = await value(`meridian_tunnel_bytes_total{job="gateway", peer_site="b", direction="${direction}"}`);
      const live = direction === 'in' ? link?.bytesIn : link?.bytesOut;
      assert.ok(bytes !== undefined && bytes > 0 && bytes <= (live ?? 0), `bytes ${direction}: scraped ${String(bytes)}, live ${String(live)}`);
    }
    const rtt = await value('meridian_tunnel_rtt_seconds{job="gateway", peer_site="b"}');
    assert.ok(rtt !== undefined && rtt >= 0 && rtt < 1, `rtt ${String(rtt)}`);
    const streams = await value('meridian_gateway_streams_total{job="gateway"}');
    assert.ok(streams !== undefined && streams >= 1 && streams <= mesh.gateways.a.stats().streams.total);
    assert.equal(await value('meridian_gateway_rejections_total{job="gateway"}'), 0);
    // The scrape with the wrong token stored nothing: only the authorised job has gateway series.
    assert.deepEqual(await prometheus.query('meridian_tunnel_up{job="gateway-wrong-token"}'), []);
  });

  it('reports certificate expiry, failovers, the catalog and the policy version at collect time', async () => {
    const expiry = await eventually('meridian_certificate_expiry_timestamp_seconds', (s) => s.length === 2);
    const expected = [certificate('gateway', mesh.identities.a), certificate('workload', frontendIdentity)];
    assert.deepEqual(
      expiry.map((s) => `${s.metric['component']} ${s.metric['role']} ${s.metric['identity']} ${s.value}`).sort(),
      expected.map((c) => `${c.role === 'gateway' ? 'gateway' : 'agent'} ${c.role} ${c.identity} ${Date.parse(c.notAfter) / 1000}`).sort(),
    );
    const failover = await prometheus.query('meridian_failover_active');
    assert.deepEqual(failover.map((s) => `${s.metric['service']} ${s.metric['from_site']}->${s.metric['to_site']} ${s.value}`), ['payments a->b 1']);
    // One series whatever the version: its value is the version, so `min by (site)` finds a laggard.
    assert.deepEqual((await prometheus.query('meridian_policy_version{job="agent"}')).map((s) => s.value), [7]);
    assert.deepEqual((await prometheus.query('meridian_policy_rejections_total{job="agent"}')).map((s) => s.value), [1]);
    assert.deepEqual((await prometheus.query('meridian_catalog_instances')).map((s) => `${s.metric['remote_site']}=${s.value}`), ['b=1']);
    assert.deepEqual((await prometheus.query('meridian_catalog_staleness_seconds')).map((s) => s.value), [1.5]);
    // No lease renewal arrived live yet: the lag is absent rather than a made-up zero.
    assert.deepEqual(await prometheus.query('meridian_catalog_sync_lag_seconds'), []);
    const processSeries = await prometheus.query('process_cpu_seconds_total{job="agent"}');
    assert.equal(processSeries.length, 2, 'process metrics under their standard names, one series per agent');
  });

  it('serves /metrics only, to GET and HEAD, and only with the token when one is set', async () => {
    const [open, , guarded] = servers;
    assert.ok(open && guarded);
    const plain = await fetch(open.url);
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await plain.text(), /^meridian_requests_total\{.*code="503".*\} 2$/m);
    assert.equal((await fetch(open.url.replace('/metrics', '/other'))).status, 404);
    const post = await fetch(open.url, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(guarded.url)).status, 401);
    assert.equal((await fetch(guarded.url, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const authorised = await fetch(guarded.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(authorised.status, 200);
    assert.match(await authorised.text(), /^meridian_tunnel_up\{.*peer_site="b".*\} 1$/m);
  });
});
