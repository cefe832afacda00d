import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, OutboundProxy } from '../../../../agent/proxy/index.js';
import { startHttpApp, type TestApp } from '../../../support/apps.js';
import { h1 } from '../../../support/clients.js';
import { waitUntil } from '../../../support/harness.js';
import { startCaller, startNode, TestCatalog } from '../../../support/mesh/index.js';
import { TestTrustDomain } from '../../../support/pki/index.js';

describe('load balancing across two instances', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  const apps: TestApp[] = [];
  const nodes: InboundProxy[] = [];
  let web: OutboundProxy;
  let port = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  before(async () => {
    for (const name of ['a', 'b']) {
      const app = await startHttpApp(name, 'http');
      const node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } });
      apps.push(app);
      nodes.push(node);
      catalog.add({ service: 'payments', instanceId: `payments-${name}`, site: 'eu', meshPort: node.port });
    }
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    port = web.httpPort ?? 0;
  });
  after(async () => {
    agent.destroy();
    await web.close(500);
    for (const node of nodes) await node.close(500);
    for (const app of apps) await app.kill();
  });

  const [a, b] = [() => apps[0] as TestApp, () => apps[1] as TestApp];

  it('least-request: concurrent requests spread evenly while they are in flight', async () => {
    // One connection per request (no agent), so all 20 are in flight at once.
    const replies = Array.from({ length: 20 }, () => h1(port, { host: 'payments.mesh', path: '/hold' }));
    try {
      await waitUntil(() => a().held + b().held === 20, 'all 20 requests held by the apps');
      assert.deepEqual([a().held, b().held], [10, 10]);
    } finally {
      a().release();
      b().release();
    }
    const statuses = (await Promise.all(replies)).map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200));
  });

  it('weights: sequential traffic splits in proportion (3:1)', async (t) => {
    catalog.replace('payments-a', { weight: 300 });
    catalog.replace('payments-b', { weight: 100 });
    const start = [a().hits, b().hits];
    for (let i = 0; i < 300; i++) await h1(port, { host: 'payments.mesh', agent });
    const share = (a().hits - (start[0] ?? 0)) / 300;
    t.diagnostic(`weight-300 instance got ${(share * 100).toFixed(1)}% of 300 requests`);
    assert.ok(share > 0.65 && share < 0.85, `heavy instance got ${share} of the traffic`);
    catalog.replace('payments-a', { weight: 100 });
    catalog.replace('payments-b', { weight: 100 });
  });

  it('an instance that dies is ejected: requests keep succeeding on the other one', async (t) => {
    const statuses: number[] = [];
    let killedAt = -1;
    const worker = async (): Promise<void> => {
      while (statuses.length < 200) {
        const reply = await h1(port, { host: 'payments.mesh', agent }).catch(() => ({ status: 0 }));
        statuses.push(reply.status);
        if (statuses.length === 40 && killedAt < 0) {
          killedAt = statuses.length;
          await (nodes[1] as InboundProxy).close(0);
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    const failures = statuses.filter((s) => s !== 200).length;
    t.diagnostic(`${failures} of ${statuses.length} requests failed around the kill`);
    // At most the requests in flight on the dying instance (4 workers) may fail.
    assert.ok(failures <= 4, `${failures} failed requests`);
    assert.ok(statuses.slice(killedAt + 8).every((s) => s === 200), 'every request after the kill window succeeded');
    const hitsOnB = b().hits;
    for (let i = 0; i < 20; i++) assert.equal((await h1(port, { host: 'payments.mesh', agent })).status, 200);
    assert.equal(b().hits, hitsOnB);
  });
});
