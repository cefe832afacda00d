import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InboundConnectionInfo, InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { h1, h2, h2c } from '../../support/clients.js';
import { waitUntil } from '../../support/harness.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

describe('nested-TLS HTTP/2 session pool', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  const connections: InboundConnectionInfo[] = [];
  let app: TestApp;
  let node: InboundProxy;
  let web: OutboundProxy;

  before(async () => {
    app = await startHttpApp('payments', 'http');
    node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } }, { onConnection: (info) => connections.push(info) });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { maxStreamsPerSession: 2 });
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await app.kill();
  });

  // HTTP/2 from the app (h2c) rides the HTTP/2 sessions; HTTP/1.1 passes through (passthrough.test.ts).
  it('reuses one session for sequential calls', async () => {
    const session = await h2c(web.httpPort ?? 0);
    try {
      for (let i = 0; i < 10; i++) assert.equal((await h2(session, { ':authority': 'payments.mesh' })).status, 200);
    } finally {
      session.close();
    }
    assert.equal(connections.length, 1);
  });

  it('opens another session when the ones it has are saturated', async () => {
    const session = await h2c(web.httpPort ?? 0);
    try {
      // One held request at a time, so each saturation check sees the previous ones in flight.
      const replies = [];
      for (let i = 1; i <= 5; i++) {
        replies.push(h2(session, { ':authority': 'payments.mesh', ':path': '/hold' }));
        await waitUntil(() => app.held === i, `request ${i} held`);
      }
      app.release();
      assert.ok((await Promise.all(replies)).every((r) => r.status === 200));
    } finally {
      session.close();
    }
    // 5 concurrent streams at 2 per session: the first session plus two more.
    assert.equal(connections.length, 3);
    assert.ok(connections.every((c) => c.alpn === 'h2' && c.caller.name === 'web'));
    assert.equal((await h1(web.httpPort ?? 0, { host: 'payments.mesh' })).status, 200);
    assert.equal(connections.at(-1)?.alpn, 'http/1.1', 'HTTP/1.1 takes its own connections');
  });
});
