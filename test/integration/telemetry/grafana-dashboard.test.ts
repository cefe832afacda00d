/**
 * The Grafana dashboard as a user gets it: `meridian dashboard grafana` prints the shipped JSON
 * byte for byte, the npm package ships it, and it is a dashboard Grafana imports (unique panel ids,
 * a grid without overlaps, every target a PromQL expression on the dashboard's Prometheus
 * datasource variable, site and service variables) that reads only metrics Meridian exports.
 * Grafana itself is not installable on our machines (no Debian package): the queries are run
 * against a real Prometheus in grafana-prometheus.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { denialCounter } from '../../../agent/telemetry/denials.js';
import { AgentMetrics, ControlMetrics, GatewayMetrics, createRegistry } from '../../../shared/telemetry/index.js';
import { GRAFANA_DASHBOARD_PATH, grafanaDashboard } from '../../../shared/telemetry/dashboards/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { REPO_ROOT, runCli } from '../../support/cli.js';
import { useTempDir } from '../../support/harness.js';
import { DATASOURCE, queryPanels, shippedDashboard, substitute, type GrafanaPanel } from './grafana-support.js';

/** Every metric name a Meridian process can expose (histograms by their series names). */
async function exportedNames(): Promise<Set<string>> {
  const report = () => ({ version: 1, rejected: null });
  const agent = new AgentMetrics(createRegistry({ role: 'agent', site: 'a', name: 'n' }), { site: 'a', certificates: () => [], catalog: () => [], policy: report, failovers: () => [] });
  denialCounter(agent.registry);
  const gateway = new GatewayMetrics(createRegistry({ role: 'gateway', site: 'a', name: 'g' }), {
    links: () => [],
    stats: () => ({ streamsActive: 0, streamsTotal: 0, rejections: 0 }),
    certificates: () => [],
    policy: report,
  });
  const control = new ControlMetrics(createRegistry({ role: 'control', site: 'a', name: 'a' }), { certificates: () => [], catalog: () => [], policy: report });
  const names = new Set<string>();
  for (const registry of [agent.registry, gateway.registry, control.registry]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}

function overlaps(a: GrafanaPanel['gridPos'], b: GrafanaPanel['gridPos']): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

describe('Grafana dashboard: what ships and how it is built', () => {
  it('`meridian dashboard grafana` prints the shipped JSON byte for byte, ready for `> file` and import', async () => {
    const printed = await runCli(['dashboard', 'grafana']);
    assert.equal(printed.stderr, '');
    assert.equal(printed.code, 0);
    assert.equal(printed.stdout, readFileSync(join(REPO_ROOT, 'shared/telemetry/dashboards/meridian-federation.json'), 'utf8'));
    assert.equal((JSON.parse(printed.stdout) as { uid: string }).uid, 'meridian-federation');
  });

  it('refuses a stray argument with exit 2 and the usage; lists itself in `meridian help`', async () => {
    const stray = await runCli(['dashboard', 'grafana', 'extra']);
    assert.equal(stray.code, 2);
    assert.equal(stray.stdout, '');
    assert.equal(stray.stderr, 'meridian: MERIDIAN_ERR_BAD_ARGUMENT: unexpected argument "extra"\nusage: meridian dashboard grafana > meridian-federation.json\n');
    const unknown = await runCli(['dashboard', 'kibana']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^meridian: unknown command 'dashboard kibana'/);
    const help = await runCli(['help']);
    assert.match(help.stdout, /^ {2}meridian dashboard grafana +print the Grafana dashboard/m);
  });

  it('is in the npm package, with the command that prints it', async () => {
    const listed = await new Promise<string>((resolve, reject) => {
      execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, timeout: 60_000 }, (error, stdout) => (error === null ? resolve(stdout) : reject(new Error(`npm pack --dry-run failed: ${error.message}`, { cause: error }))));
    });
    const files = (JSON.parse(listed) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    for (const path of ['shared/telemetry/dashboards/meridian-federation.json', 'dist/shared/telemetry/dashboards/index.js', 'dist/cli/dashboard.js']) {
      assert.ok(files.includes(path), `${path} missing from the package`);
    }
    assert.equal(GRAFANA_DASHBOARD_PATH, join(REPO_ROOT, 'shared/telemetry/dashboards/meridian-federation.json'));
  });

  it('a missing or broken dashboard file is MERIDIAN_ERR_FILE_IO naming the file', () => {
    const dir = useTempDir('meridian-grafana-');
    const missing = join(dir, 'missing.json');
    assert.throws(() => grafanaDashboard(missing), (e: unknown) => isMeridianError(e) && e.code === 'MERIDIAN_ERR_FILE_IO' && e.message.startsWith(`Grafana dashboard ${missing}: cannot read it`));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"panels": [');
    assert.throws(() => grafanaDashboard(broken), (e: unknown) => isMeridianError(e) && e.code === 'MERIDIAN_ERR_FILE_IO' && e.message.startsWith(`Grafana dashboard ${broken}: not valid JSON`));
  });

  it('has a Prometheus datasource variable and multi-value site and service variables whose All is a regex', () => {
    const { templating, title, schemaVersion } = shippedDashboard();
    assert.equal(title, 'Meridian federation');
    assert.ok(Number.isInteger(schemaVersion) && schemaVersion >= 36, 'a schema Grafana 9+ imports as is');
    const byName = new Map(templating.list.map((v) => [v.name, v]));
    assert.deepEqual([...byName.keys()], ['datasource', 'site', 'service']);
    assert.equal(byName.get('datasource')?.type, 'datasource');
    assert.equal(byName.get('datasource')?.query, 'prometheus');
    for (const name of ['site', 'service']) {
      const variable = byName.get(name);
      assert.equal(variable?.type, 'query');
      assert.deepEqual(variable?.datasource, DATASOURCE);
      assert.equal(variable?.multi, true);
      assert.equal(variable?.includeAll, true);
      assert.equal(variable?.allValue, '.*');
    }
  });

  it('every panel has a unique id and a place on the grid; no two overlap', () => {
    const { panels } = shippedDashboard();
    const all = panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    const ids = all.map((p) => p.id);
    assert.ok(ids.every((id) => Number.isInteger(id) && id > 0), 'integer ids');
    assert.equal(new Set(ids).size, ids.length, 'unique ids');
    for (const { title, gridPos: g } of all) {
      assert.ok([g.h, g.w, g.x, g.y].every((n) => Number.isInteger(n) && n >= 0) && g.w >= 1 && g.h >= 1 && g.x + g.w <= 24, `${title}: gridPos ${JSON.stringify(g)}`);
    }
    for (const [i, a] of all.entries()) for (const b of all.slice(i + 1)) assert.ok(!overlaps(a.gridPos, b.gridPos), `${a.title} overlaps ${b.title}`);
  });

  it('every query panel and target uses the datasource variable and a PromQL expression with known variables only', () => {
    const panels = queryPanels(shippedDashboard());
    assert.ok(panels.length >= 20, `${panels.length} query panels`);
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, DATASOURCE, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has targets`);
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${panel.title}: unique refIds`);
      for (const target of panel.targets ?? []) {
        assert.deepEqual(target.datasource, DATASOURCE, `${panel.title} ${target.refId}`);
        assert.ok(typeof target.expr === 'string' && target.expr.length > 0, `${panel.title} ${target.refId}: expr`);
        substitute(target.expr);
      }
    }
  });

  it('reads only metrics Meridian exports, and covers links, RTT, traffic, errors, latency percentiles, catalog, certificates and policy', async () => {
    const exported = await exportedNames();
    const exprs = queryPanels(shippedDashboard()).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const used = new Set(exprs.flatMap((e) => e.match(/\bmeridian_[a-z_]+/g) ?? []));
    assert.deepEqual([...used].filter((name) => !exported.has(name)), [], 'names no process exports');
    for (const name of [
      'meridian_tunnel_up', 'meridian_tunnel_rtt_seconds', 'meridian_tunnel_bytes_total', 'meridian_requests_total', 'meridian_request_duration_seconds_bucket',
      'meridian_catalog_sync_lag_seconds', 'meridian_catalog_staleness_seconds', 'meridian_certificate_expiry_timestamp_seconds', 'meridian_policy_version', 'meridian_policy_denials_total',
    ]) {
      assert.ok(used.has(name), `no panel reads ${name}`);
    }
    for (const q of ['0.5', '0.95', '0.99']) assert.ok(exprs.some((e) => e.startsWith(`histogram_quantile(${q}, sum by (le`)), `p${Number(q) * 100} from the histogram`);
    assert.ok(exprs.some((e) => /code=~"5\.\."/.test(e)), 'a 5xx error panel');
  });
});
