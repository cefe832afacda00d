import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startInbound, type InboundConnectionInfo, type InboundProxy, type OutboundProxy } from '../../../agent/proxy/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { h1, h2 } from '../../support/clients.js';
import { startCaller, TestCatalog } from '../../support/mesh/index.js';
import { mtlsH2, TestTrustDomain } from '../../support/pki/index.js';

describe('certificate renewal without dropping connections', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  const connections: InboundConnectionInfo[] = [];
  const paymentsV1 = pki.identity('eu', 'svc', 'payments');
  let app: TestApp;
  let node: InboundProxy;
  let web: OutboundProxy;

  before(async () => {
    app = await startHttpApp('payments', 'http');
    node = await startInbound({
      port: 0,
      identities: new Map([['payments', paymentsV1]]),
      localServices: () => ({ address: '127.0.0.1', port: app.port, protocol: 'http' }),
      onConnection: (info) => connections.push(info),
    });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await app.kill();
  });

  it('inbound: the open connection keeps working, a new one gets the new certificate', async () => {
    const caller = pki.identity('eu', 'svc', 'web');
    const old = await mtlsH2(node.port, caller, 'payments');
    assert.equal(old.socket.getPeerX509Certificate()?.serialNumber, paymentsV1.serial);
    const paymentsV2 = pki.identity('eu', 'svc', 'payments');
    node.setIdentity('payments', paymentsV2);
    const fresh = await mtlsH2(node.port, caller, 'payments');
    try {
      assert.equal((await h2(old.session, { ':authority': 'payments.mesh' })).status, 200);
      assert.equal(fresh.socket.getPeerX509Certificate()?.serialNumber, paymentsV2.serial);
      assert.equal((await h2(fresh.session, { ':authority': 'payments.mesh' })).status, 200);
    } finally {
      old.session.close();
      fresh.session.close();
    }
  });

  it('outbound: in-flight calls finish on the old session, new sessions present the new certificate', async () => {
    const webV1 = pki.identity('eu', 'svc', 'web');
    const webV2 = pki.identity('eu', 'svc', 'web');
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { identity: webV1 });
    const port = web.httpPort ?? 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    connections.length = 0;
    try {
      assert.equal((await h1(port, { host: 'payments.mesh', agent })).status, 200);
      const slow = h1(port, { host: 'payments.mesh', path: '/slow?ms=300' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      web.setIdentity(webV2);
      assert.equal((await h1(port, { host: 'payments.mesh', agent })).status, 200);
      assert.equal((await slow).status, 200, 'the request in flight during renewal completed');
      assert.deepEqual(
        connections.map((c) => c.certificate.serialNumber),
        [webV1.serial, webV2.serial],
      );
    } finally {
      agent.destroy();
    }
  });
});
