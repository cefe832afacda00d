/**
 * Every panel of the shipped Grafana dashboard, against a real Prometheus that scraped a real
 * 3-site mesh (NATS supercluster, a control service and a gateway per site, agents with their data
 * planes) after real cross-site traffic: each target's PromQL, with its template variables
 * replaced as Grafana replaces them (All = `.*`), returns data, as a range query for the time
 * series panels and an instant query for the tables and stats. Grafana itself is not installable
 * here (no Debian package); Prometheus's HTTP API is what Grafana's Prometheus datasource calls.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { pollUntil, startPrometheus, type PrometheusHandle, type PrometheusTarget } from '../../support/servers/index.js';
import { eventually, fileScope, useTempDir } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { startHttpApp } from '../../support/apps.js';
import { h1 } from '../../support/clients.js';
import { runCli } from '../../support/cli.js';
import { agentAuthorization } from '../../support/agent-process.js';
import { freePort } from '../../support/servers/index.js';
import { queryPanels, shippedDashboard, substitute, type GrafanaTarget } from './grafana-support.js';

const TOKEN = 'grafana-status-token-0123456789';
const SITES = ['east', 'west', 'north'] as const;
const SHOP = 'spiffe://acme.internal/site/east/svc/shop';
/** Calls from shop (east) per round: orders in west (200, 503), stock in north (200, 403 by policy), a service nobody runs (502). */
const ROUND = [
  { host: 'orders.mesh', path: '/', status: 200 },
  { host: 'orders.mesh', path: '/status?code=503', status: 503 },
  { host: 'stock.mesh', path: '/', status: 200 },
  { host: 'stock.mesh', path: '/forbidden', status: 403 },
  { host: 'ghost.mesh', path: '/', status: 502 },
] as const;
const ROUNDS = 12;

let mesh: FederationMesh;
let prometheus: PrometheusHandle;
let outboundPort: number;
const statuses: number[] = [];

/** Policy: allow by default, deny shop's calls to stock under /forbidden (denials at north-1). */
async function applyPolicy(agents: readonly RunningAgent[]): Promise<void> {
  const dir = join(useTempDir('meridian-grafana-policy-'), 'set');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'policy.yaml'),
    `kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: allow}
---
kind: Authorization
metadata: {name: no-forbidden}
spec: {action: deny, service: stock, rules: [{from: ['${SHOP}'], to: [{paths: [{prefix: /forbidden}]}]}]}
`,
  );
  const applied = await runCli(['policy', 'apply', '-f', dir, '--site', 'east', '--dir', mesh.fed.pki.dir, '--nats', mesh.fed.nats.site('east').url]);
  assert.equal(applied.code, 0, applied.stderr);
  await eventually(() => assert.deepEqual(agents.map((a) => a.policy.current.version), agents.map(() => 1)), { timeoutMs: 15_000 });
}

/** shop at east-1 calling orders at west-1 and stock at north-1 through the gateways. */
async function startShop(): Promise<RunningAgent[]> {
  const [east, west, north] = await Promise.all([mesh.agent('east', 'east-1'), mesh.agent('west', 'west-1'), mesh.agent('north', 'north-1')]);
  const orders = await startHttpApp('orders', 'http');
  const stock = await startHttpApp('stock', 'http');
  fileScope.after(async () => (await orders.kill(), await stock.kill()));
  outboundPort = await freePort();
  await west.registrar.register({ service: 'orders', ports: { http: orders.port }, export: true }, { kind: 'api' });
  await north.registrar.register({ service: 'stock', ports: { http: stock.port }, export: true }, { kind: 'api' });
  await east.registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: outboundPort } }, { kind: 'api' });
  for (const host of ['orders.mesh', 'stock.mesh']) await eventually(async () => assert.equal((await h1(outboundPort, { host })).status, 200), { timeoutMs: 30_000 });
  return [east, west, north];
}

/** Every agent (its API token), gateway and control service (the status token) of the mesh. */
function scrapeTargets(agents: readonly RunningAgent[]): PrometheusTarget[] {
  // Each agent has its own API token, and targets of one Prometheus job share theirs: a job each.
  const targets: PrometheusTarget[] = agents.map((agent, i) => {
    const bearerToken = (agentAuthorization(agent)['authorization'] ?? '').replace(/^Bearer /, '');
    return { job: `agent-${SITES[i] ?? i}`, url: `${agent.api.url}/metrics`, bearerToken };
  });
  for (const site of SITES) {
    targets.push({ job: 'gateway', url: mesh.gateways.get(site)?.metricsUrl ?? assert.fail(`gateway ${site} serves no metrics`) });
    targets.push({ job: 'control', url: `${mesh.controls.get(site)?.status.api?.url ?? assert.fail(`control ${site} has no status API`)}/metrics`, bearerToken: TOKEN });
  }
  return targets;
}

/** Bounded traffic spread over several scrapes, so rates and increases have more than one sample. */
async function driveTraffic(): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const call of ROUND) statuses.push((await h1(outboundPort, { host: call.host, path: call.path })).status);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

/** Grafana's calls for a target: /api/v1/query_range over the last 2 minutes for a range query, /api/v1/query for an instant one. */
async function run(target: GrafanaTarget, values: Parameters<typeof substitute>[1] = {}): Promise<{ metric: Record<string, string>; values: number[] }[]> {
  const query = substitute(target.expr, values);
  const now = Math.floor(Date.now() / 1000);
  const path = target.instant === true
    ? `/api/v1/query?query=${encodeURIComponent(query)}&time=${now}`
    : `/api/v1/query_range?query=${encodeURIComponent(query)}&start=${now - 120}&end=${now}&step=2`;
  const response = await fetch(`${prometheus.url}${path}`, { signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } };
  assert.equal(body.status, 'success', `${query}: ${body.error ?? ''}`);
  return body.data.result.map((s) => ({ metric: s.metric, values: (s.values ?? (s.value ? [s.value] : [])).map(([, v]) => Number(v)) }));
}

before(async () => {
  mesh = await startFederationMesh(SITES, { status: { interval: '500ms', api: { tokens: [TOKEN] } } });
  const agents = await startShop();
  await applyPolicy(agents);
  prometheus = await startPrometheus({ scrapeIntervalMs: 1000, targets: scrapeTargets(agents) });
  fileScope.after(() => prometheus.stop());
  await pollUntil(async () => {
    const targets = await prometheus.targets();
    return targets.length === 9 && targets.every((t) => t.health === 'up') ? true : undefined;
  }, { what: 'every agent, gateway and control service scraped', timeoutMs: 30_000, intervalMs: 250 });
  await driveTraffic();
  // Two more scrapes after the last call, so every counter's last increase is stored.
  await new Promise((resolve) => setTimeout(resolve, 2500));
});

describe('Grafana dashboard against a real Prometheus scraping a real 3-site mesh', () => {
  it('the traffic got the answers the panels must show (200, 503 from the app, 403 by policy, 502 for no instance)', () => {
    assert.deepEqual(statuses, Array.from({ length: ROUNDS }, () => ROUND.map((c) => c.status)).flat());
  });

  it('every target of every panel returns data with all sites and services selected', async () => {
    const panels = queryPanels(shippedDashboard());
    const empty: string[] = [];
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const series = await run(target);
        if (series.length === 0 || series.every((s) => s.values.length === 0)) empty.push(`${panel.title} [${target.refId}]: ${target.expr}`);
      }
    }
    assert.deepEqual(empty, [], `panels without data:\n${empty.join('\n')}`);
    console.log(`${panels.length} panels, ${panels.flatMap((p) => p.targets ?? []).length} queries: all returned data`);
  });

  it('the template variables list the sites and the services', async () => {
    const { templating } = shippedDashboard();
    const labelValues = async (name: string): Promise<string[]> => {
      const variable = templating.list.find((v) => v.name === name);
      const match = /^label_values\((.+), (\w+)\)$/.exec((variable?.query as { query: string } | undefined)?.query ?? '');
      assert.ok(match?.[1] !== undefined && match[2] !== undefined, `${name}: a label_values() query`);
      const response = await fetch(`${prometheus.url}/api/v1/label/${match[2]}/values?match[]=${encodeURIComponent(match[1])}`);
      return ((await response.json()) as { data: string[] }).data;
    };
    assert.deepEqual(await labelValues('site'), ['east', 'north', 'west']);
    assert.deepEqual(await labelValues('service'), ['orders', 'stock', 'unknown']);
  });

  it('shows what happened: 3 sites, every tunnel up with an RTT, 403s as denials, 5xx between sites, policy version 1 everywhere', async () => {
    const panel = (title: string): GrafanaTarget[] => [...(queryPanels(shippedDashboard()).find((p) => p.title === title)?.targets ?? assert.fail(title))];
    const last = (series: { values: number[] }): number => series.values.at(-1) ?? NaN;
    const [sites] = panel('Sites reporting');
    assert.deepEqual((await run(sites ?? assert.fail())).map(last), [3]);
    const [tunnels] = panel('Tunnel state');
    const up = await run(tunnels ?? assert.fail());
    assert.deepEqual(up.map((s) => `${s.metric['site']}->${s.metric['peer_site']}=${last(s)}`).sort(), ['east->north=1', 'east->west=1', 'north->east=1', 'north->west=1', 'west->east=1', 'west->north=1']);
    const [rtt] = panel('Tunnel RTT');
    for (const s of await run(rtt ?? assert.fail())) assert.ok(last(s) > 0 && last(s) < 1, `rtt ${JSON.stringify(s)}`);
    const [denials] = panel('Policy denials');
    const denied = await run(denials ?? assert.fail());
    assert.deepEqual(denied.map((s) => `${s.metric['service']}@${s.metric['site']} ${s.metric['rule']}`), ['stock@north no-forbidden/rules/0']);
    assert.ok(denied[0]?.values.some((v) => v > 0), 'denials counted');
    const [ratio] = panel('Error ratio between sites (5xx)');
    const ratios = await run(ratio ?? assert.fail(), { rateInterval: '30s' });
    const byPair = Object.fromEntries(ratios.map((s) => [`${s.metric['source_site']}->${s.metric['destination_site']}`, Math.max(...s.values.filter(Number.isFinite))]));
    // orders answers 1 of 2 with 503; stock answers 403 (not 5xx); a ghost call never has an instance.
    assert.deepEqual(Object.keys(byPair).sort(), ['east->north', 'east->unknown', 'east->west']);
    assert.equal(byPair['east->north'], 0);
    assert.equal(byPair['east->unknown'], 1);
    assert.ok(Math.abs((byPair['east->west'] ?? 0) - 0.5) < 0.2, `east->west ${String(byPair['east->west'])}`);
    const [versions] = panel('Policy version by process');
    const enforced = await run(versions ?? assert.fail(), { site: 'west' });
    assert.deepEqual(enforced.map((s) => `${s.metric['component']} ${s.metric['name']}=${last(s)}`).sort(), ['agent west-1=1', 'control west=1', 'gateway gw-1=1']);
    const [expiry] = panel('Soonest certificate expiry');
    const left = last((await run(expiry ?? assert.fail()))[0] ?? assert.fail('no expiry'));
    assert.ok(left > 3600 && left <= 86_400, `soonest expiry in ${left} s (24 h certificates)`);
  });
});
