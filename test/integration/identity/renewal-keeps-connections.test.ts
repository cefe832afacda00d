import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import net from 'node:net';
import { before, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { startExampleHttpService } from '../../../dev/examples/index.js';
import { createRootAuthority } from '../../../shared/identity/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { readUntil, startFederationMesh, startTcpEcho, type FederationMesh } from '../../support/mesh/index.js';

// Agents, gateways, control services and workloads all hold 4 s certificates: each renews every ~2 s.
const TTL_MS = 4000;
const HOLD_MS = 12_000;
let mesh: FederationMesh;
let east: RunningAgent;
let west: RunningAgent;
let httpPort: number;
let tcpPort: number;

before(async () => {
  mesh = await startFederationMesh(['east', 'west'], { roleTtlMs: TTL_MS, workloadTtlMs: TTL_MS });
  [east, west] = [await mesh.agent('east', 'east-1'), await mesh.agent('west', 'west-1')];
  const echo = await startTcpEcho();
  fileScope.after(() => echo.close());
  const orders = await startExampleHttpService({ service: 'orders', site: 'west' });
  fileScope.after(() => orders.close());
  await west.registrar.register({ service: 'raw', ports: { tcp: echo.port }, protocol: 'tcp', export: true }, { kind: 'api' });
  await west.registrar.register({ service: 'orders', ports: { http: orders.port }, export: true }, { kind: 'api' });
  [httpPort, tcpPort] = [await freePort(), await freePort()];
  await east.registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: httpPort, upstreams: [{ service: 'raw', port: tcpPort }] } }, { kind: 'api' });
  await eventually(() => assert.ok(east.view.query({ service: 'raw', site: 'west' }).some((e) => e.usable)), { timeoutMs: 20_000 });
  await eventually(() => assert.equal(east.dataPlane?.outbound().get('shop')?.httpPort, httpPort), { timeoutMs: 20_000 });
});

function renewals(): number[] {
  return [east, west].map((a) => a.credentials.renewal.renewals).concat([...mesh.gateways.values()].map((g) => g.credentials.renewal.renewals));
}

it('a cross-site TCP tunnel opened before several renewals of every certificate on its path keeps carrying data', async () => {
  const socket = await eventually(async () => {
    const s = net.connect(tcpPort, '127.0.0.1');
    await once(s, 'connect');
    s.write('hello\n');
    await readUntil(s, (text) => text.includes('hello\n'), 5000);
    return s;
  }, { timeoutMs: 20_000 });
  fileScope.after(() => Promise.resolve(void socket.destroy()));
  let closed = false;
  socket.once('close', () => (closed = true));
  const start = renewals();
  const until = Date.now() + HOLD_MS;
  // Bounded: one line every 250 ms for HOLD_MS.
  for (let i = 0; Date.now() < until; i++) {
    socket.write(`line ${i}\n`);
    await readUntil(socket, (text) => text.includes(`line ${i}\n`), 5000);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const end = renewals();
  assert.equal(closed, false, 'the tunnel stayed open');
  end.forEach((count, i) => assert.ok(count - (start[i] ?? 0) >= 3, `role #${i} renewed ${count - (start[i] ?? 0)} times while the tunnel was open`));
});

it('an HTTP keep-alive connection to the agent keeps serving across renewals', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  fileScope.after(() => Promise.resolve(agent.destroy()));
  const call = (): Promise<{ status: number; reused: boolean }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: httpPort, path: '/', agent, headers: { host: 'orders.mesh' }, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });
  await eventually(async () => assert.equal((await call()).status, 200), { timeoutMs: 20_000 });
  const start = renewals();
  const results: { status: number; reused: boolean }[] = [];
  const until = Date.now() + TTL_MS * 2;
  while (Date.now() < until) {
    results.push(await call());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(results.filter((r) => r.status !== 200), []);
  assert.ok(results.every((r) => r.reused), 'every call went over the same keep-alive connection');
  assert.ok(renewals().every((count, i) => count > (start[i] ?? 0)), 'every role renewed meanwhile');
});

it("a new trust bundle reaches the agent's workload identities and its calls go on", async () => {
  const extra = createRootAuthority({ trustDomain: 'acme.internal' }).certificate;
  const bundle = east.identity.current.bundle.withRoot(extra);
  east.identity.replace({ bundle });
  const identities = east.dataPlane?.identities() ?? assert.fail('no data plane');
  assert.ok(identities.size > 0);
  for (const [service, identity] of identities) assert.equal(identity.bundle, bundle, `${service} carries the new bundle`);
  const agent = new Agent({ keepAlive: false });
  fileScope.after(() => Promise.resolve(agent.destroy()));
  // New sessions (every 500 ms here) verify peers with the new bundle; calls keep succeeding.
  for (let i = 0; i < 20; i++) {
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port: httpPort, path: '/', agent, headers: { host: 'orders.mesh' }, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    assert.equal(status, 200, `call ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // A workload renewal after the change keeps the new bundle.
  const renewed = east.dataPlane?.identities().get('shop');
  await eventually(() => assert.notEqual(east.dataPlane?.identities().get('shop'), renewed), { timeoutMs: 10_000 });
  assert.equal(east.dataPlane?.identities().get('shop')?.bundle.roots.length, 2);
});
