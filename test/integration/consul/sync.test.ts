import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import Consul from 'consul';
import { eventually, fileScope, timed, useTempDir } from '../../support/harness.js';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.js';
import { startSecureFederation } from '../../support/catalog.js';
import { CLI_PATH, runCli } from '../../support/cli.js';
import { refusedPort } from '../../support/net.js';

/**
 * No Consul server is installable here: the "Consul" datacenter is a Meridian agent of site dc1
 * serving the Consul-compatible API (consulApi), driven with the `consul` npm client as a fleet
 * would drive Consul. The sync mirrors it into site east through east's agent API, and east's
 * services back into it with --to-consul.
 */
interface Row {
  service: string;
  instanceId: string;
  site: string;
  health: string;
  ports: Record<string, number>;
  version: string;
  labels: Record<string, string>;
}
interface HealthEntry {
  Service: { ID: string; Service: string; Port: number; Meta: Record<string, string> };
  Checks: { Status: string; Output: string }[];
}

/** The sync's blocking wait: a change that follows well within it came through a blocking query's return, not a timeout. */
const WAIT = '30s';
const ROUND_BOUND_MS = 5000;

let source: AgentProcess;
let target: AgentProcess;
let consulUrl: string;
let consul: Consul;
let sync: SyncProcess;
/** A port something listens on, for registrations of the target site (their default TCP check passes). */
let app: number;

interface SyncProcess {
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
  /** SIGKILL: the sync dies without removing anything. */
  kill(): Promise<void>;
}

function startSync(args: readonly string[]): SyncProcess {
  const child = spawn(process.execPath, [CLI_PATH, 'consul', 'sync', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  fileScope.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    output: () => output,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

function syncArgs(extra: readonly string[] = []): string[] {
  return ['--consul', consulUrl, '--site', 'east', '--agent', target.url, '--token-file', target.tokenFile, '--consul-token-file', source.tokenFile, '--wait', WAIT, '--ttl', '6s', ...extra];
}

async function rows(agent: AgentProcess, query: string): Promise<Row[]> {
  return ((await agent.get(`/v1/instances?${query}`)) as { instances: Row[] }).instances;
}

async function consulHealth(service: string): Promise<HealthEntry[]> {
  return (await consul.health.service({ service })) as HealthEntry[];
}

before(async () => {
  const dir = useTempDir('meridian-consul-sync-');
  const listener = (await import('node:net')).createServer((socket) => socket.end()).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  fileScope.after(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  app = (listener.address() as { port: number }).port;
  const fed = await startSecureFederation(['dc1', 'east']);
  const consulPort = await refusedPort();
  [source, target] = await Promise.all([
    startAgentProcess(fed, 'dc1', 'consul-1', { dir: join(dir, 'dc1'), config: { consulApi: { host: '127.0.0.1', port: consulPort } } }),
    startAgentProcess(fed, 'east', 'east-1', { dir: join(dir, 'east') }),
  ]);
  consulUrl = `http://127.0.0.1:${consulPort}`;
  consul = new Consul({ host: '127.0.0.1', port: consulPort, defaults: { token: readFileSync(source.tokenFile, 'utf8').trim() } });
  fileScope.after(() => Promise.resolve(consul.destroy()));
});

describe('meridian consul sync', () => {
  it('refuses bad arguments with the exact error, before contacting anything', async () => {
    const cases: [string[], string][] = [
      [['--site', 'east'], '--consul is required'],
      [['--consul', 'consul:8500', '--site', 'east'], '--consul consul:8500: expected http(s)://host:port, e.g. http://127.0.0.1:8500'],
      [['--consul', 'http://127.0.0.1:8500/v1', '--site', 'east'], '--consul http://127.0.0.1:8500/v1: expected http(s)://host:port, e.g. http://127.0.0.1:8500'],
      [['--consul', 'http://127.0.0.1:8500'], '--site is required'],
      [['--consul', 'http://127.0.0.1:8500', '--site', 'east', '--agent', 'localhost'], '--agent localhost: expected http(s)://host:port, e.g. http://127.0.0.1:8510'],
      [['--consul', 'http://127.0.0.1:8500', '--site', 'east', '--protocol', 'udp'], '--protocol udp: expected one of http, http2, grpc, tcp'],
      [['--consul', 'http://127.0.0.1:8500', '--site', 'east', '--wait', '11m'], '--wait 11m: must be from 1s to 10m'],
      [['--consul', 'http://127.0.0.1:8500', '--site', 'east', '--wait', 'soon'], '--wait: "soon" is not a duration (use e.g. 30s, 15m, 24h, 7d)'],
      [['--consul', 'http://127.0.0.1:8500', '--site', 'east', '--max-services', '0'], '--max-services 0: expected a whole number from 1 to 1000000'],
      [['--consul', 'http://127.0.0.1:8500', '--site', 'east', '--to-consol'], "Unknown option '--to-consol'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--to-consol\""],
    ];
    const usage = (await runCli(['consul', 'sync', '--help'])).stdout.split('usage: ')[1]?.trimEnd();
    for (const [args, message] of cases) {
      const result = await runCli(['consul', 'sync', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, `meridian: MERIDIAN_ERR_BAD_ARGUMENT: ${message}\nusage: ${usage ?? ''}\n`);
    }
  });

  it('names what failed when Consul or the agent is not what the flags say, and writes nothing', async () => {
    const before = await rows(target, 'site=east');
    const wrongSite = await runCli(['consul', 'sync', ...syncArgs().map((a) => (a === 'east' ? 'west' : a))]);
    assert.equal(wrongSite.code, 2);
    assert.equal(wrongSite.stderr, `meridian: MERIDIAN_ERR_BAD_ARGUMENT: --site west: the Meridian agent at ${target.url} belongs to site east\n`);
    const dead = `http://127.0.0.1:${await refusedPort()}`;
    const unreachable = await runCli(['consul', 'sync', ...syncArgs().map((a) => (a === consulUrl ? dead : a))]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, new RegExp(`^meridian: MERIDIAN_ERR_CONSUL_UNAVAILABLE: GET /v1/agent/self at Consul ${dead}: .*ECONNREFUSED`));
    const badToken = join(useTempDir('meridian-consul-token-'), 'token');
    writeFileSync(badToken, 'not-the-token\n', { mode: 0o600 });
    const refused = await runCli(['consul', 'sync', ...syncArgs().map((a) => (a === source.tokenFile ? badToken : a))]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^meridian: MERIDIAN_ERR_CONSUL_REFUSED: GET /v1/agent/self at Consul ${consulUrl}: refused \\(40[13]\\)`));
    assert.deepEqual(await rows(target, 'site=east'), before);
  });

  it('mirrors a Consul service into the site, with its origin and the loop mark', async () => {
    await consul.agent.service.register({ name: 'payments', id: 'payments-1', address: '127.0.0.1', port: 7001, tags: ['v1'], meta: { version: '1.0.0', team: 'pay' }, check: { ttl: '60s' } as never });
    await consul.agent.check.pass('service:payments-1');
    sync = startSync(syncArgs(['--to-consul']));
    const [mirror] = await eventually(async () => {
      const found = await rows(target, 'service=payments&site=east');
      assert.equal(found.length, 1, sync.output());
      assert.equal(found[0]?.health, 'passing');
      return found;
    }, { timeoutMs: 15_000 });
    assert.equal(mirror?.instanceId, 'consul-dc1-consul-1-payments-1');
    assert.deepEqual(mirror?.ports, { http: 7001 });
    assert.equal(mirror?.version, '1.0.0');
    assert.equal(mirror?.labels['external-source'], 'consul');
    assert.equal(mirror?.labels['consul-dc'], 'dc1');
    assert.equal(mirror?.labels['consul-tags'], 'v1');
    assert.equal(mirror?.labels.team, 'pay');
    assert.match(sync.output(), /consul sync: Consul http:\/\/127\.0\.0\.1:\d+ datacenter dc1 -> Meridian site east \(and back: --to-consul\)/);
  });

  it('follows an update, a critical check, a recovery and a delete within one blocking round each', async () => {
    const figures: Record<string, number> = {};
    const follow = async (what: string, change: () => Promise<unknown>, check: (found: Row[]) => void): Promise<void> => {
      const { ms } = await timed(async () => {
        await change();
        await eventually(async () => check(await rows(target, 'service=payments&site=east')), { timeoutMs: ROUND_BOUND_MS, intervalMs: 25 });
      });
      figures[what] = ms;
    };
    await follow('update', () => consul.agent.service.register({ name: 'payments', id: 'payments-1', address: '127.0.0.1', port: 7002, meta: { version: '1.1.0' }, check: { ttl: '60s' } as never }).then(() => consul.agent.check.pass('service:payments-1')), (found) => {
      assert.deepEqual(found.map((r) => [r.ports, r.version, r.health]), [[{ http: 7002 }, '1.1.0', 'passing']]);
    });
    await follow('critical', () => consul.agent.check.fail({ id: 'service:payments-1', note: 'db down' }), (found) => assert.deepEqual(found.map((r) => r.health), ['critical']));
    await follow('recovery', () => consul.agent.check.pass('service:payments-1'), (found) => assert.deepEqual(found.map((r) => r.health), ['passing']));
    await follow('delete', () => consul.agent.service.deregister('payments-1'), (found) => assert.deepEqual(found, []));
    // Reported in the note: each bound is far below the 30 s wait, so it came from the blocking query's return.
    console.log(`consul sync rounds (ms): ${JSON.stringify(figures)}`);
  });

  it('mirrors the site into Consul with --to-consul, follows its health, and never loops', async () => {
    const registered = await target.request('/v1/services', { method: 'POST', body: { service: 'orders', instanceId: 'orders-a', ports: { http: app }, check: { type: 'ttl', ttl: '60s' } } });
    assert.equal(registered.status, 201);
    assert.equal((await target.request('/v1/checks/orders-a/pass', { method: 'PUT' })).status, 204);
    await consul.agent.service.register({ name: 'ledger', id: 'ledger-1', address: '127.0.0.1', port: 7003, check: { ttl: '60s' } as never });
    await consul.agent.check.pass('service:ledger-1');
    const [mirrored] = await eventually(async () => {
      const entries = await consulHealth('orders');
      assert.equal(entries.length, 1, sync.output());
      assert.equal(entries[0]?.Checks[0]?.Status, 'passing');
      return entries;
    }, { timeoutMs: 10_000 });
    assert.equal(mirrored?.Service.ID, 'meridian-east-orders-a');
    assert.equal(mirrored?.Service.Meta['external-source'], 'meridian');
    assert.equal(mirrored?.Service.Meta['meridian-site'], 'east');
    await eventually(async () => assert.equal((await rows(target, 'service=ledger&site=east')).length, 1), { timeoutMs: 10_000 });

    const failed = await target.request('/v1/checks/orders-a/fail?note=disk%20full', { method: 'PUT' });
    assert.equal(failed.status, 204);
    await eventually(async () => assert.equal((await consulHealth('orders'))[0]?.Checks[0]?.Status, 'critical'), { timeoutMs: ROUND_BOUND_MS, intervalMs: 25 });
    assert.equal((await target.request('/v1/checks/orders-a/pass', { method: 'PUT' })).status, 204);
    await eventually(async () => assert.equal((await consulHealth('orders'))[0]?.Checks[0]?.Status, 'passing'), { timeoutMs: ROUND_BOUND_MS, intervalMs: 25 });

    // Several rounds later: one orders in each place, one ledger in each place, nothing mirrored twice.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual((await rows(target, 'service=orders&site=east')).map((r) => r.instanceId), ['orders-a']);
    assert.deepEqual((await rows(target, 'service=ledger&site=east')).map((r) => r.instanceId), ['consul-dc1-consul-1-ledger-1']);
    assert.deepEqual((await consulHealth('orders')).map((e) => e.Service.ID), ['meridian-east-orders-a']);
    assert.deepEqual((await consulHealth('ledger')).map((e) => e.Service.ID), ['ledger-1']);
    assert.deepEqual(await rows(target, 'service=orders&site=east&label=external-source=consul'), []);

    const gone = await target.request('/v1/services/orders-a', { method: 'DELETE' });
    assert.equal(gone.status, 204);
    await eventually(async () => assert.deepEqual(await consulHealth('orders'), []), { timeoutMs: ROUND_BOUND_MS, intervalMs: 25 });
  });

  it('leaves no passing mirror behind when killed, and a restart takes over what the dead one wrote', async () => {
    await consul.agent.service.register({ name: 'audit', id: 'audit-1', address: '127.0.0.1', port: 7004, check: { ttl: '60s' } as never });
    await consul.agent.check.pass('service:audit-1');
    const billing = await target.request('/v1/services', { method: 'POST', body: { service: 'billing', instanceId: 'billing-a', ports: { http: app } } });
    assert.equal(billing.status, 201);
    await eventually(async () => assert.deepEqual((await rows(target, 'service=audit&site=east')).map((r) => r.health), ['passing']), { timeoutMs: 10_000 });
    await eventually(async () => assert.equal((await consulHealth('billing')).length, 1), { timeoutMs: 10_000 });
    await sync.kill();
    // While no sync runs: ledger leaves Consul, billing leaves the site.
    await consul.agent.service.deregister('ledger-1');
    assert.equal((await target.request('/v1/services/billing-a', { method: 'DELETE' })).status, 204);
    // The mirrors' ttl (6 s) runs out without the sync's passes.
    await eventually(async () => {
      assert.deepEqual((await rows(target, 'service=audit&site=east')).map((r) => r.health), ['critical']);
      assert.equal((await consulHealth('billing'))[0]?.Checks[0]?.Status, 'critical');
    }, { timeoutMs: 10_000 });

    sync = startSync(syncArgs(['--to-consul']));
    await eventually(async () => {
      assert.deepEqual((await rows(target, 'service=audit&site=east')).map((r) => [r.instanceId, r.health]), [['consul-dc1-consul-1-audit-1', 'passing']]);
      assert.deepEqual(await rows(target, 'service=ledger&site=east'), []);
      assert.deepEqual(await consulHealth('billing'), []);
    }, { timeoutMs: 10_000 });
  });

  it('follows a burst: 40 services registered at once appear, then leave, each within a bounded time', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    const mirrored = async (): Promise<number> => (await rows(target, 'site=east&label=external-source=consul')).filter((r) => r.service.startsWith('burst-') && r.health === 'passing').length;
    const appear = await timed(async () => {
      await Promise.all(names.map((name, i) => consul.agent.service.register({ name, id: `${name}-1`, address: '127.0.0.1', port: 7100 + i, check: { ttl: '60s' } as never }).then(() => consul.agent.check.pass(`service:${name}-1`))));
      await eventually(async () => assert.equal(await mirrored(), names.length), { timeoutMs: 20_000, intervalMs: 50 });
    });
    const leave = await timed(async () => {
      await Promise.all(names.map((name) => consul.agent.service.deregister(`${name}-1`)));
      await eventually(async () => assert.equal((await rows(target, 'site=east&label=external-source=consul')).filter((r) => r.service.startsWith('burst-')).length, 0), { timeoutMs: 20_000, intervalMs: 50 });
    });
    console.log(`consul sync burst of ${names.length} services (ms): appear ${appear.ms}, leave ${leave.ms}`);
  });

  it('stops on SIGTERM with exit 0, removing what it wrote on both sides', async () => {
    assert.equal(await sync.stop(), 0);
    assert.match(sync.output(), /consul sync stopped: mirrors removed/);
    assert.deepEqual(await rows(target, 'site=east&label=external-source=consul'), []);
    assert.deepEqual((await consulHealth('audit')).map((e) => e.Service.ID), ['audit-1']);
    assert.deepEqual(Object.values((await consul.agent.service.list()) as Record<string, { Meta: Record<string, string> }>).filter((s) => s.Meta['external-source'] === 'meridian'), []);
  });

  it('watches at most --max-services services, saying which it skipped', async () => {
    await consul.agent.service.register({ name: 'search', id: 'search-1', address: '127.0.0.1', port: 7005, check: { ttl: '60s' } as never });
    await consul.agent.check.pass('service:search-1');
    const bounded = startSync(syncArgs(['--max-services', '1']));
    await eventually(() => assert.match(bounded.output(), /"message":"consul sync: service limit reached, not watching more services".*"maxServices":1,"skipped":"(audit|search)"/), { timeoutMs: 10_000 });
    await eventually(async () => assert.equal((await rows(target, 'site=east&label=external-source=consul')).length, 1), { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal((await rows(target, 'site=east&label=external-source=consul')).length, 1);
    assert.equal(await bounded.stop(), 0);
  });
});
