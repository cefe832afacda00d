/**
 * A real Prometheus scrapes the federation's services found through the Consul-compatible API.
 *
 * Debian's prometheus package (2.42, the one `scripts/setup.sh prometheus` installs) is built
 * without Consul discovery: its config parser refuses `consul_sd_configs` ("field
 * consul_sd_configs not found in type config.ScrapeConfig"), which the first test pins so the day
 * it is there this file is rewritten to use it. Until then, `ConsulDiscovery` below makes Prometheus's
 * Consul discovery's requests (the Go client's: `stale`, `index`, `wait` in ms, `dc`, the token in
 * X-Consul-Token, X-Consul-Index/KnownLeader/LastContact required), maps the answers to its
 * `__meta_consul_*` labels, and hands them to the real Prometheus through file_sd.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { ServiceInstance } from '../../../shared/catalog/index.js';
import { fileScope, useTempDir } from '../../support/harness.js';
import { closeServer, listenLoopback } from '../../support/net.js';
import { findBinary, pollUntil, startPrometheus, type PrometheusHandle, type PrometheusSample } from '../../support/servers/index.js';
import { TOKEN, startConsulFixture, type ConsulFixture } from './api-support.js';

interface HealthEntry {
  Node: { Node: string; Address: string; Datacenter: string };
  Service: { ID: string; Service: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> };
  Checks: { Status: string }[];
}

/** Prometheus's Consul discovery for one datacenter, as its Go client asks, written to a file_sd file. */
class ConsulDiscovery {
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  constructor(
    private readonly api: string,
    private readonly dc: string,
    private readonly file: string,
  ) {}

  async #get(path: string): Promise<{ body: unknown; index: string }> {
    const response = await fetch(`${this.api}${path}`, { headers: { 'x-consul-token': TOKEN }, signal: this.#abort.signal });
    assert.equal(response.status, 200, path);
    const [index, leader, contact] = ['x-consul-index', 'x-consul-knownleader', 'x-consul-lastcontact'].map((h) => response.headers.get(h) ?? '');
    // The Go client fails a response whose headers do not parse.
    assert.match(index ?? '', /^[1-9]\d*$/);
    assert.match(leader ?? '', /^(true|false)$/);
    assert.match(contact ?? '', /^\d+$/);
    return { body: await response.json(), index: index ?? '' };
  }

  async #targets(services: string[]): Promise<unknown[]> {
    const groups: unknown[] = [];
    for (const service of services) {
      const { body } = await this.#get(`/v1/health/service/${service}?dc=${this.dc}&stale=`);
      for (const entry of body as HealthEntry[]) {
        const labels: Record<string, string> = {
          __meta_consul_dc: entry.Node.Datacenter,
          __meta_consul_node: entry.Node.Node,
          __meta_consul_service: entry.Service.Service,
          __meta_consul_service_id: entry.Service.ID,
          __meta_consul_health: entry.Checks.every((c) => c.Status === 'passing') ? 'passing' : 'critical',
          __meta_consul_tags: `,${entry.Service.Tags.join(',')},`,
        };
        for (const [key, value] of Object.entries(entry.Service.Meta)) labels[`__meta_consul_service_metadata_${key.replace(/[^A-Za-z0-9_]/g, '_')}`] = value;
        groups.push({ targets: [`${entry.Service.Address || entry.Node.Address}:${entry.Service.Port}`], labels });
      }
    }
    return groups;
  }

  start(): void {
    this.#loop = (async () => {
      let index = '0';
      while (!this.#abort.signal.aborted) {
        const listed = await this.#get(`/v1/catalog/services?dc=${this.dc}&stale=&index=${index}&wait=120000ms`);
        index = listed.index;
        const groups = await this.#targets(Object.keys(listed.body as Record<string, string[]>));
        writeFileSync(`${this.file}.tmp`, JSON.stringify(groups));
        renameSync(`${this.file}.tmp`, this.file);
      }
    })().catch((error: unknown) => {
      if (!this.#abort.signal.aborted) throw error;
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }
}

let fx: ConsulFixture;
let prometheus: PrometheusHandle | undefined;
const apps: Server[] = [];
const ports: Record<string, number> = {};
let west2: ServiceInstance;

/** An app exposing one metric naming itself, as a scraped workload would. */
async function metricsApp(name: string): Promise<number> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE test_app_info gauge\ntest_app_info{app="${name}"} 1\n`);
  });
  apps.push(server);
  return listenLoopback(server);
}

function fileJob(job: string, file: string): Record<string, unknown> {
  return {
    job_name: job,
    file_sd_configs: [{ files: [file], refresh_interval: '1s' }],
    relabel_configs: [
      { source_labels: ['__meta_consul_dc'], target_label: 'dc' },
      { source_labels: ['__meta_consul_service'], target_label: 'service' },
      { source_labels: ['__meta_consul_node'], target_label: 'node' },
      { source_labels: ['__meta_consul_service_metadata_team'], target_label: 'team' },
      { source_labels: ['__meta_consul_health'], target_label: 'health' },
    ],
  };
}

function lines(samples: readonly PrometheusSample[]): string[] {
  return samples.map(({ metric: m, value }) => `${m['job']} ${m['dc']}/${m['service']}@${m['node']} team=${m['team'] ?? ''} health=${m['health']} app=${m['app'] ?? ''} = ${value}`).sort();
}

async function expectSeries(promql: string, expected: string[]): Promise<void> {
  let last: string[] = [];
  await pollUntil(async () => {
    last = lines((await prometheus?.query(promql)) ?? []);
    return JSON.stringify(last) === JSON.stringify(expected) ? true : undefined;
  }, { what: `prometheus to answer ${promql} with ${JSON.stringify(expected)} (last: ${JSON.stringify(last)})`, timeoutMs: 30_000, intervalMs: 250 });
}

before(async () => {
  fx = await startConsulFixture();
  // File teardowns run last-registered first: discovery stops before the API closes under it.
  fileScope.after(() => Promise.all(apps.map((server) => closeServer(server))).then(() => undefined));
  for (const name of ['payments-w1', 'payments-w2', 'frontend-e1']) ports[name] = await metricsApp(name);
  await fx.putWest('payments', 'west-1', { instanceId: 'payments-w1', ports: { http: ports['payments-w1'] }, labels: { team: 'pay' } });
  west2 = await fx.putWest('payments', 'west-2', { instanceId: 'payments-w2', ports: { http: ports['payments-w2'] }, labels: { team: 'pay' } });
  const registration = await fx.call('/v1/agent/service/register', { method: 'PUT', body: JSON.stringify({ Name: 'frontend', ID: 'frontend-e1', Port: ports['frontend-e1'], Meta: { team: 'web' }, Check: { TTL: '60s' } }) });
  assert.equal(registration.status, 200, await registration.text());
  assert.equal((await fx.call('/v1/agent/check/pass/service:frontend-e1', { method: 'PUT' })).status, 200);
  const dir = useTempDir('meridian-consul-sd-');
  const jobs: Record<string, unknown>[] = [];
  for (const dc of ['west', 'east']) {
    const file = join(dir, `${dc}.json`);
    writeFileSync(file, '[]');
    const discovery = new ConsulDiscovery(fx.api.url, dc, file);
    discovery.start();
    fileScope.after(() => discovery.stop());
    jobs.push(fileJob(`consul-${dc}`, file));
  }
  const started = await startPrometheus({ targets: [], scrapeConfigs: jobs });
  fileScope.after(() => started.stop());
  prometheus = started;
});

describe('Prometheus scraping services discovered through the Consul-compatible API', () => {
  it("Debian's Prometheus has no consul_sd_configs (why discovery runs beside it)", () => {
    const dir = useTempDir('meridian-promtool-');
    writeFileSync(join(dir, 'p.yml'), 'scrape_configs:\n  - job_name: x\n    consul_sd_configs:\n      - server: 127.0.0.1:8500\n');
    const promtool = join(findBinary('prometheus'), '..', 'promtool');
    assert.throws(() => execFileSync(promtool, ['check', 'config', join(dir, 'p.yml')], { stdio: 'pipe' }), (error: Error & { stdout?: Buffer; stderr?: Buffer }) => {
      assert.match(`${error.stdout?.toString() ?? ''}${error.stderr?.toString() ?? ''}`, /field consul_sd_configs not found in type config.ScrapeConfig/);
      return true;
    });
  });

  it("scrapes a federated site's services under its site as datacenter, and this agent's own", async () => {
    await expectSeries('test_app_info', [
      'consul-east east/frontend@east-1 team=web health=passing app=frontend-e1 = 1',
      'consul-west west/payments@west-1 team=pay health=passing app=payments-w1 = 1',
      'consul-west west/payments@west-2 team=pay health=passing app=payments-w2 = 1',
    ]);
  });

  it('follows catalog changes through blocking queries: a removed instance leaves, a new service arrives', async () => {
    const started = Date.now();
    await fx.removeWest(west2);
    const port = await metricsApp('ledger-w1');
    await fx.putWest('ledger', 'west-1', { instanceId: 'ledger-w1', ports: { http: port }, labels: { team: 'pay' } });
    await pollUntil(async () => {
      const urls = ((await prometheus?.targets()) ?? []).filter((t) => t.job === 'consul-west').map((t) => t.scrapeUrl).sort();
      return JSON.stringify(urls) === JSON.stringify([`http://127.0.0.1:${ports['payments-w1']}/metrics`, `http://127.0.0.1:${port}/metrics`].sort()) ? true : undefined;
    }, { what: 'prometheus to follow the west catalog', timeoutMs: 30_000, intervalMs: 200 });
    // Prometheus applies discovered targets every 5 s (its discovery manager's ticker): that, not a poll of ours, is the bound.
    assert.ok(Date.now() - started < 15_000, `followed after ${Date.now() - started} ms`);
    await expectSeries('test_app_info{app="ledger-w1"}', ['consul-west west/ledger@west-1 team=pay health=passing app=ledger-w1 = 1']);
  });
});
