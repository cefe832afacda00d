import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { h1, h2, h2c } from '../../support/clients.js';
import { startHttpApp } from '../../support/apps.js';
import { waitUntil } from '../../support/harness.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import type { InboundProxy } from '../../../agent/proxy/index.js';


/** 300 requests from 6 workers; after the 60th, `node` starts draining (3 s bound). The statuses, 0 for a failed request. */
async function drainUnderLoad(node: InboundProxy | undefined, send: () => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  let draining: Promise<void> | undefined;
  const worker = async (): Promise<void> => {
    while (statuses.length < 300) {
      const reply = await send().catch(() => ({ status: 0 }));
      statuses.push(reply.status);
      if (statuses.length === 60) draining = node?.close(3000);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  await draining;
  return statuses;
}

describe('drain on close()', () => {
  const pki = new TestTrustDomain();

  it('inbound: a slow request in flight completes, new connections are refused', async () => {
    const catalog = new TestCatalog();
    const app = await startHttpApp('payments', 'http');
    const node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    const web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    try {
      const slow = h1(web.httpPort ?? 0, { host: 'payments.mesh', path: '/slow?ms=400' });
      // In flight means the app has it: a fixed sleep races the TLS handshake on a loaded machine.
      await waitUntil(() => app.hits === 1, 'the slow request to reach the app', 5000);
      const started = Date.now();
      const closed = node.close(5000);
      const refused = await h1(web.httpPort ?? 0, { host: 'payments.mesh' });
      assert.equal(refused.status, 502, 'no new connection reaches the closing inbound');
      assert.equal((await slow).status, 200);
      await closed;
      assert.ok(Date.now() - started < 2000, 'close() returned once the request was done, not at the deadline');
    } finally {
      await web.close(500);
      await node.close(500);
      await app.kill();
    }
  });

  it('outbound: HTTP/1.1 and h2c requests in flight complete; the port stops accepting; the deadline cuts the rest', async () => {
    const catalog = new TestCatalog();
    const app = await startHttpApp('payments', 'http');
    const node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    const web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    const port = web.httpPort ?? 0;
    const session = await h2c(port);
    try {
      const slowH1 = h1(port, { host: 'payments.mesh', path: '/slow?ms=300' });
      const slowH2 = h2(session, { ':authority': 'payments.mesh', ':path': '/slow?ms=300' });
      const stuck = h1(port, { host: 'payments.mesh', path: '/hold' }).then(
        () => 'answered',
        () => 'cut',
      );
      await waitUntil(() => app.hits === 3, 'all three requests to reach the app', 5000);
      const started = Date.now();
      const closed = web.close(800);
      await assert.rejects(h1(port, { host: 'payments.mesh' }), /ECONNREFUSED/);
      assert.equal((await slowH1).status, 200);
      assert.equal((await slowH2).status, 200);
      await closed;
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 700 && elapsed < 2000, `close() took ${elapsed} ms for an 800 ms deadline`);
      assert.equal(await stuck, 'cut');
    } finally {
      session.destroy();
      app.release();
      await web.close(500);
      await node.close(500);
      await app.kill();
    }
  });

  it('an instance draining under load costs no request: streams it refuses are retried elsewhere', async () => {
    const catalog = new TestCatalog();
    const apps = [await startHttpApp('a', 'http'), await startHttpApp('b', 'http')];
    const nodes = await Promise.all(apps.map((app) => startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } })));
    nodes.forEach((node, i) => catalog.add({ service: 'payments', instanceId: `payments-${i}`, site: 'eu', meshPort: node.port }));
    const web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    const session = await h2c(web.httpPort ?? 0);
    try {
      const statuses = await drainUnderLoad(nodes[1], () => h2(session, { ':authority': 'payments.mesh', ':method': 'POST' }, Buffer.from('x')));
      assert.deepEqual(
        statuses.filter((s) => s !== 200),
        [],
      );
    } finally {
      session.close();
      await web.close(500);
      for (const node of nodes) await node.close(500);
      for (const app of apps) await app.kill();
    }
  });

  it('an instance draining under HTTP/1.1 load costs no request: pooled connections it closes are retried', async () => {
    const catalog = new TestCatalog();
    const apps = [await startHttpApp('a', 'http'), await startHttpApp('b', 'http')];
    const nodes = await Promise.all(apps.map((app) => startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } })));
    nodes.forEach((node, i) => catalog.add({ service: 'payments', instanceId: `payments-${i}`, site: 'eu', meshPort: node.port }));
    const web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    try {
      const statuses = await drainUnderLoad(nodes[1], () => h1(web.httpPort ?? 0, { host: 'payments.mesh', method: 'POST', body: Buffer.from('x'), agent }));
      assert.deepEqual(
        statuses.filter((s) => s !== 200),
        [],
      );
      assert.equal(apps.reduce((sum, app) => sum + app.hits, 0), statuses.length, 'every request reached an app exactly once');
    } finally {
      agent.destroy();
      await web.close(500);
      for (const node of nodes) await node.close(500);
      for (const app of apps) await app.kill();
    }
  });
});
