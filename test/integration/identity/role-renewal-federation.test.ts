import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { before, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RunningAgent } from '../../../agent/index.js';
import { startExampleHttpService } from '../../../dev/examples/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';

// Every certificate of the federation (agents, gateways, control services, workloads) lives 5 s:
// over the run each is renewed many times while calls go on.
const TTL_MS = 5000;
const RUN_MS = 50_000;
const SITES = ['east', 'west', 'north'] as const;
let mesh: FederationMesh;
const agents = new Map<string, RunningAgent>();
let port: number;
const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

function call(host: string): Promise<{ host: string; status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: keepAlive, headers: { host }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ host, status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ host, status: 0, body: error.message }));
    req.end();
  });
}

async function exampleService(service: string, site: string): Promise<number> {
  const app = await startExampleHttpService({ service, site });
  fileScope.after(() => app.close());
  return app.port;
}

before(async () => {
  mesh = await startFederationMesh(SITES, { roleTtlMs: TTL_MS, workloadTtlMs: TTL_MS });
  fileScope.after(() => Promise.resolve(keepAlive.destroy()));
  for (const [site, node] of [['east', 'east-1'], ['east', 'east-2'], ['west', 'west-1'], ['north', 'north-1']] as const) agents.set(node, await mesh.agent(site, node));
  const at = (node: string): RunningAgent => agents.get(node) ?? assert.fail(node);
  await at('west-1').registrar.register({ service: 'orders', ports: { http: await exampleService('orders', 'west') }, export: true }, { kind: 'api' });
  await at('north-1').registrar.register({ service: 'stock', ports: { http: await exampleService('stock', 'north') }, export: true }, { kind: 'api' });
  await at('east-2').registrar.register({ service: 'cart', ports: { http: await exampleService('cart', 'east') } }, { kind: 'api' });
  port = await freePort();
  await at('east-1').registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: port } }, { kind: 'api' });
  for (const host of ['orders.mesh', 'stock.mesh', 'cart.mesh']) await eventually(async () => assert.equal((await call(host)).status, 200), { timeoutMs: 30_000 });
});

/** Counts every status event but the pings of each connection from now on. */
function watchConnection(nc: NatsConnection, events: string[]): void {
  void (async () => {
    for await (const status of nc.status()) if (status.type !== 'ping' && status.type !== 'staleConnection') events.push(status.type);
  })();
}

it('a 3-site federation whose certificates live 5 s serves cross-site and same-site calls for a minute with 0 failures, every role renewing, NATS never dropped', async () => {
  const connections = new Map<string, NatsConnection>();
  for (const [node, agent] of agents) connections.set(`agent ${node}`, agent.nats() ?? assert.fail(`${node} has no NATS connection`));
  for (const site of SITES) {
    connections.set(`gateway ${site}`, mesh.gateways.get(site)?.nc ?? assert.fail(site));
    connections.set(`control ${site}`, mesh.controls.get(site)?.nc ?? assert.fail(site));
  }
  const events: string[] = [];
  for (const nc of connections.values()) watchConnection(nc, events);
  const renewals = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const [node, agent] of agents) counts.set(`agent ${node}`, agent.credentials.renewal.renewals);
    for (const site of SITES) {
      counts.set(`gateway ${site}`, mesh.gateways.get(site)?.credentials.renewal.renewals ?? -1);
      counts.set(`control ${site}`, mesh.controls.get(site)?.renewal.renewals ?? -1);
    }
    return counts;
  };
  const before = renewals();
  const results: { host: string; status: number; body: string }[] = [];
  const hosts = ['orders.mesh', 'stock.mesh', 'cart.mesh'];
  // Bounded in time and count: three callers, one call each every ~20 ms, for RUN_MS.
  const until = Date.now() + RUN_MS;
  await Promise.all(
    hosts.map(async (host) => {
      while (Date.now() < until && results.length < 20_000) {
        results.push(await call(host));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
  const after = renewals();
  const failed = results.filter((r) => r.status !== 200);
  const done = [...after].map(([role, count]) => `${role}: ${count - (before.get(role) ?? 0)}`);
  console.log(`short-lived federation: ${results.length} calls in ${RUN_MS} ms, ${failed.length} failed; renewals during the run: ${done.join(', ')}`);
  assert.deepEqual(failed.slice(0, 5), []);
  for (const host of hosts) assert.ok(results.filter((r) => r.host === host).length > 100, `${host} was called`);
  for (const [role, count] of after) assert.ok(count - (before.get(role) ?? 0) >= 8, `${role} renewed ${count - (before.get(role) ?? 0)} times during the run`);
  for (const [role, nc] of connections) {
    assert.equal(nc.isClosed(), false, `${role}: NATS connection closed`);
    assert.equal(role.startsWith('agent') ? agents.get(role.slice(6))?.nats() : nc, nc, `${role}: same NATS connection object`);
  }
  assert.deepEqual(events, [], 'no NATS disconnect or reconnect');
  // Every certificate in use now is a renewed one, valid now.
  for (const agent of agents.values()) assert.ok(Date.parse(agent.identity.current.chain[0]?.validTo ?? '') > Date.now());
});
