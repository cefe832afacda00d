import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { eventually, fileScope } from '../../support/harness.js';
import { relaunchAgent, startAgentProcess, type AgentProcess } from '../../support/agent-process.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';
import { runCliSync, type CliResult } from '../../support/cli.js';

interface Row {
  service: string;
  instanceId: string;
  site: string;
  health: string;
  stale: boolean;
  ageMs: number;
  usable: boolean;
}

const SITES = ['east', 'west', 'north'];
let fed: SecureFederation;
let east: AgentProcess;
let eastSpare: AgentProcess;
let west: AgentProcess;
let north: AgentProcess;
/** A port something listens on: instances without a check get a TCP check on their first port, and only a listening one passes. */
let app: number;

async function instances(agent: AgentProcess, query: string): Promise<Row[]> {
  return ((await agent.get(`/v1/instances?${query}`)) as { instances: Row[] }).instances;
}

/** Polls `agent` until `service` has exactly `count` instances; returns them. */
async function expectInstances(agent: AgentProcess, service: string, count: number, timeoutMs = 8000): Promise<Row[]> {
  return eventually(async () => {
    const rows = await instances(agent, `service=${service}`);
    assert.equal(rows.length, count, `${service} at ${agent.url}: ${JSON.stringify(rows)}`);
    return rows;
  }, { timeoutMs });
}

function meridian(...args: string[]): CliResult {
  return runCliSync(args, { timeoutMs: 15_000 });
}

/** Reads `event: instances` frames of a server-sent event stream. */
function readEvents(response: Response): { next(): Promise<Row[]>; close(): void } {
  const reader = (response.body ?? assert.fail('no body')).getReader();
  let buffer = '';
  return {
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(frame);
          if (data?.[1] !== undefined) return JSON.parse(data[1]) as Row[];
          continue;
        }
        const chunk = await reader.read();
        if (chunk.done) throw new Error('stream ended');
        buffer += Buffer.from(chunk.value).toString();
      }
    },
    close: () => void reader.cancel(),
  };
}

function define(agent: AgentProcess, file: string, body: Record<string, unknown>): void {
  writeFileSync(join(agent.definitionsDir, file), JSON.stringify(body));
}

before(async () => {
  const listener = createTcpServer((socket) => socket.end()).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  fileScope.after(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  app = (listener.address() as AddressInfo).port;
  fed = await startSecureFederation(SITES);
  [east, eastSpare, west, north] = await Promise.all([
    startAgentProcess(fed, 'east', 'east-1'),
    startAgentProcess(fed, 'east', 'east-2'),
    startAgentProcess(fed, 'west', 'west-1'),
    startAgentProcess(fed, 'north', 'north-1'),
  ]);
});

describe('agents on a 3-site federation', () => {
  it('registers from a definitions file and from the API; every site sees both', async () => {
    define(east, 'orders.json', { service: 'orders', ports: { http: app }, labels: { team: 'shop' } });
    const response = await east.request('/v1/services', { method: 'POST', body: { service: 'orders', instanceId: 'orders-api', ports: { http: app }, version: '2.0.0' } });
    assert.equal(response.status, 201);
    for (const agent of [west, north, east]) {
      const rows = await expectInstances(agent, 'orders', 2);
      assert.deepEqual(rows.map((r) => [r.site, r.health, r.stale]), [['east', 'passing', false], ['east', 'passing', false]]);
    }
    assert.equal((await instances(north, 'service=orders&label=team=shop')).length, 1);
    assert.equal((await instances(north, 'service=orders&site=west')).length, 0);
    const services = (await west.get('/v1/services')) as { services: { service: string; instances: number; sites: string[] }[] };
    assert.deepEqual(services.services.find((s) => s.service === 'orders'), { service: 'orders', instances: 2, passing: 2, usable: 2, stale: 0, sites: ['east'] });
  });

  it('rejects a bad definition with the field named, and keeps serving everything else', async () => {
    const before = await instances(east, 'service=orders');
    const response = await east.request('/v1/services', { method: 'POST', body: { service: 'orders', ports: { http: 'eighty' } } });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      code: 'MERIDIAN_ERR_CONFIG_INVALID',
      message: 'agent API: invalid configuration: /ports/http: Expected integer',
      details: { source: 'agent API', violations: [{ path: '/ports/http', message: 'Expected integer' }] },
    });
    define(east, 'broken.json', { service: 'broken', ports: { http: -1 } });
    await eventually(() => assert.match(east.output(), /service definition rejected.*broken\.json.*\/ports\/http/), { timeoutMs: 5000 });
    const withoutAge = (rows: Row[]): Omit<Row, 'ageMs'>[] => rows.map(({ ageMs: _age, ...rest }) => rest);
    assert.deepEqual(withoutAge(await instances(east, 'service=orders')), withoutAge(before));
    assert.equal((await instances(east, 'service=broken')).length, 0);
  });

  it('offers blocking queries and a server-sent event stream of changes', async () => {
    const first = await west.request('/v1/instances?service=watched');
    const index = Number(first.headers.get('x-meridian-index'));
    const blocking = west.request(`/v1/instances?service=watched&index=${index}&wait=10s`);
    const stream = await fetch(`${west.url}/v1/instances/stream?service=watched`, { headers: { authorization: `Bearer ${readFileSync(west.tokenFile, 'utf8').trim()}` } });
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    const events = readEvents(stream);
    assert.deepEqual(await events.next(), []);
    const started = Date.now();
    await east.request('/v1/services', { method: 'POST', body: { service: 'watched', instanceId: 'watched-1', ports: { http: app } } });
    const answered = await blocking;
    assert.ok(Number(answered.headers.get('x-meridian-index')) > index);
    assert.ok(Date.now() - started < 5000);
    let streamed = await events.next();
    while (streamed.length === 0) streamed = await events.next();
    assert.deepEqual(streamed.map((r) => r.instanceId), ['watched-1']);
    events.close();
    const idle = Date.now();
    const unchanged = await west.request(`/v1/instances?service=nothing-here&index=${Number.MAX_SAFE_INTEGER}&wait=300ms`);
    assert.equal(unchanged.status, 200);
    assert.ok(Date.now() - idle >= 290, 'a blocking query waits for its bound when nothing changes');
    const bad = await west.request('/v1/instances?index=-1');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: 'index: must be a non-negative integer' });
    const badHealth = await west.request('/v1/instances?health=fine');
    assert.deepEqual(await badHealth.json(), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: 'health: must be one of passing, critical, unknown' });
  });

  it('meridian services prints the federated catalog as a table, or JSON for scripts', () => {
    const table = meridian('services', '--agent', north.url, '--token-file', north.tokenFile, '--service', 'orders');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^SERVICE\s+INSTANCE\s+SITE\s+REGION\s+PLATFORM\s+ADDRESS\s+HEALTH\s+STATE\s+VERSION$/);
    assert.match(table.stdout, new RegExp(String.raw`^orders\s+orders-api\s+east\s+region-east\s+vm\s+127\.0\.0\.1:${app}\s+passing\s+fresh\s+2\.0\.0$`, 'm'));
    assert.equal(lines.at(-1), '2 instance(s), 2 usable');
    const json = meridian('services', '--agent', north.url, '--token-file', north.tokenFile, '--service', 'orders', '--label', 'team=shop', '--json');
    assert.deepEqual((JSON.parse(json.stdout) as { instances: Row[] }).instances.map((r) => r.instanceId), [`east-1-orders-${app}`]);
    const down = meridian('services', '--agent', 'http://127.0.0.1:1', '--token-file', north.tokenFile);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^meridian: MERIDIAN_ERR_CATALOG_UNAVAILABLE: cannot reach the agent at http:\/\/127\.0\.0\.1:1\/v1\/instances/);
  });

  it('reports readiness, and survives SIGHUP (which re-reads its definitions)', async () => {
    const agentState = JSON.stringify(await east.get('/v1/agent'));
    assert.equal((await fetch(`${east.url}/v1/ready`)).status, 200, `${agentState}\n${east.output().slice(-3000)}`);
    assert.equal(((await east.get('/v1/agent')) as { ready: boolean }).ready, true);
    process.kill(east.pid, 'SIGHUP');
    define(east, 'after-hup.json', { service: 'after-hup', ports: { http: app } });
    process.kill(east.pid, 'SIGHUP');
    await expectInstances(west, 'after-hup', 1);
    assert.equal((await fetch(`${east.url}/v1/ready`)).status, 200);
  });

  it('a health change reaches the other sites within one interval plus propagation', async () => {
    let status = 200;
    const web: Server = createServer((_req, res) => res.writeHead(status).end());
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    fileScope.after(() => new Promise<void>((resolve) => web.close(() => resolve())));
    const port = (web.address() as AddressInfo).port;
    define(west, 'web.json', { service: 'web', ports: { http: port }, check: { type: 'http', port: 'http', path: '/healthz', interval: '200ms', timeout: '200ms', unhealthyThreshold: 1 } });
    await eventually(async () => assert.equal((await expectInstances(east, 'web', 1))[0]?.health, 'passing'), { timeoutMs: 8000 });
    status = 503;
    const flipped = Date.now();
    await eventually(async () => assert.equal((await instances(north, 'service=web'))[0]?.health, 'critical'), { timeoutMs: 5000, intervalMs: 20 });
    const elapsed = Date.now() - flipped;
    console.log(`health flip seen at another site after ${elapsed} ms (interval 200 ms)`);
    // A generous bound: timing is the benchmarks' job; this checks the flip travels promptly at all.
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    assert.equal((await instances(north, 'service=web'))[0]?.usable, false);
  });

  it('a killed agent leaves the catalog when its lease expires; a stopped one at once', async () => {
    define(eastSpare, 'cache.json', { service: 'cache', ports: { redis: app } });
    define(eastSpare, 'queue.json', { service: 'queue', ports: { amqp: app } });
    await expectInstances(west, 'cache', 1);
    await expectInstances(west, 'queue', 1);
    await eastSpare.kill();
    const killed = Date.now();
    await expectInstances(west, 'cache', 0, 10_000);
    const leaseGone = Date.now() - killed;
    console.log(`killed agent's instance left the catalog after ${leaseGone} ms (lease 3000 ms, heartbeat 500 ms)`);
    assert.ok(leaseGone <= 3000 + 500 + 1000, `took ${leaseGone} ms`);

    const extra = await startAgentProcess(fed, 'east', 'east-3');
    define(extra, 'batch.json', { service: 'batch', ports: { http: app } });
    await expectInstances(north, 'batch', 1);
    assert.equal(await extra.stop(), 0);
    const stopped = Date.now();
    await expectInstances(north, 'batch', 0, 5000);
    console.log(`gracefully stopped agent deregistered in ${Date.now() - stopped} ms`);
    assert.match(extra.output(), /agent stopped: instances deregistered/);
  });

  it('a partition keeps the cut-off site entries, stale with their age; they converge after the heal', async () => {
    define(north, 'ledger.json', { service: 'ledger', ports: { http: app } });
    define(north, 'audit.json', { service: 'audit', ports: { http: app }, partition: { mode: 'fail-closed' } });
    define(north, 'report.json', { service: 'report', ports: { http: app }, partition: { mode: 'keep-last-known', maxStaleness: '2s' } });
    await expectInstances(west, 'ledger', 1);
    await expectInstances(west, 'audit', 1);
    await expectInstances(west, 'report', 1);
    await fed.nats.partition('north');
    try {
      const [ledger] = await eventually(async () => {
        const rows = await instances(west, 'service=ledger');
        assert.equal(rows[0]?.stale, true);
        return rows;
      }, { timeoutMs: 8000 });
      assert.equal(ledger?.usable, true, 'keep-last-known (default 10m) stays usable');
      assert.ok((ledger?.ageMs ?? 0) > 1500);
      assert.equal((await instances(west, 'service=audit'))[0]?.usable, false, 'fail-closed stops at once');
      await eventually(async () => assert.equal((await instances(west, 'service=report'))[0]?.usable, false), { timeoutMs: 5000 });
      assert.equal((await instances(west, 'service=report'))[0]?.stale, true, 'still listed after its budget, only unusable');
      define(north, 'late.json', { service: 'late', ports: { http: app } });
      await expectInstances(north, 'late', 1);
      assert.equal((await instances(west, 'service=late')).length, 0);
    } finally {
      await fed.nats.heal('north');
    }
    const healed = Date.now();
    await expectInstances(west, 'late', 1, 15_000);
    console.log(`views converged ${Date.now() - healed} ms after the heal`);
    await eventually(async () => assert.equal((await instances(west, 'service=ledger'))[0]?.stale, false), { timeoutMs: 8000 });
  });

  it('an agent restarted while NATS is down serves its last-known-good snapshot', async () => {
    define(west, 'search.json', { service: 'search', ports: { http: app } });
    await expectInstances(west, 'search', 1);
    await expectInstances(west, 'orders', 2);
    // The snapshot is written at most once a second: a crash loses at most that much.
    await eventually(() => assert.match(readFileSync(join(west.dir, 'data', 'catalog-snapshot.json'), 'utf8'), /"search"/), { timeoutMs: 3000 });
    await west.kill();
    await fed.nats.stopSite('west');
    let restarted: AgentProcess | undefined;
    try {
      restarted = await relaunchAgent(west);
      await expectInstances(restarted, 'orders', 2, 5000);
      // Served from the snapshot: ageing from when the site was last heard, stale past 3 heartbeats, still usable.
      await eventually(async () => assert.ok((await instances(restarted ?? west, 'service=orders')).every((r) => r.stale && r.usable)), { timeoutMs: 5000 });
      assert.equal((await instances(restarted, 'service=search')).length, 1);
    } finally {
      await fed.nats.restartSite('west');
    }
    if (restarted === undefined) return;
    await eventually(async () => assert.ok((await instances(restarted, 'service=orders')).every((r) => !r.stale)), { timeoutMs: 20_000 });
    west = restarted;
    rmSync(join(west.definitionsDir, 'search.json'));
    await expectInstances(north, 'search', 0, 10_000);
  });
});
