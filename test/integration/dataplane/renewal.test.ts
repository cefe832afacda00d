import assert from 'node:assert/strict';
import { request } from 'node:http';
import { before, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningAgent } from '../../../agent/index.js';
import { startExampleHttpService } from '../../../dev/examples/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';

const TTL_MS = 4000;
let mesh: FederationMesh;
let east: RunningAgent;
let port: number;

function call(): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: 'orders.mesh' }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end();
  });
}

before(async () => {
  // Workload certificates live 4 s here, so renewal (due at 50-60% of the lifetime) happens during the test.
  mesh = await startFederationMesh(['east', 'west'], { workloadTtlMs: TTL_MS });
  const west: RunningAgent = await mesh.agent('west', 'west-1');
  east = await mesh.agent('east', 'east-1');
  const orders = await startExampleHttpService({ service: 'orders', site: 'west' });
  fileScope.after(() => orders.close());
  await west.registrar.register({ service: 'orders', ports: { http: orders.port }, export: true }, { kind: 'api' });
  port = await freePort();
  await east.registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: port } }, { kind: 'api' });
  await eventually(async () => assert.equal((await call()).status, 200), { timeoutMs: 20_000 });
});

it('workload certificates renew before they expire and calls keep flowing across sites', async () => {
  const certPath = join(mesh.dir, 'east-1', 'identities', 'shop.crt');
  const first = new X509Certificate(readFileSync(certPath));
  const results: { status: number; body: string }[] = [];
  // Bounded: 2.5 lifetimes of calls, one every 50 ms.
  const until = Date.now() + TTL_MS * 2.5;
  while (Date.now() < until) {
    results.push(await call());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const last = new X509Certificate(readFileSync(certPath));
  assert.notEqual(last.serialNumber, first.serialNumber, 'the caller certificate was renewed');
  assert.ok(new Date(last.validTo) > new Date(first.validTo));
  assert.ok(Date.now() > new Date(first.validTo).getTime(), 'the first certificate has expired by now');
  const failed = results.filter((r) => r.status !== 200);
  console.log(`renewal: ${results.length} calls over ${TTL_MS * 2.5} ms, ${failed.length} failed`);
  assert.deepEqual(failed, []);
});
