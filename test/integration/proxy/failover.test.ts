import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Balancer, type InboundProxy, type OutboundProxy } from '../../../agent/proxy/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { bodyJson, h1 } from '../../support/clients.js';
import { entry, REGION, startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

describe('locality failover through the outbound proxy', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  const apps: TestApp[] = [];
  const nodes: InboundProxy[] = [];
  let web: OutboundProxy;

  before(async () => {
    // eu is the caller's site; eu2 shares its region; us is another region.
    for (const site of ['eu', 'eu2', 'us']) {
      const app = await startHttpApp(site, 'http');
      const node = await startNode(pki, site, { orders: { address: '127.0.0.1', port: app.port, protocol: 'http', exported: true } });
      apps.push(app);
      nodes.push(node);
      catalog.add({ service: 'orders', instanceId: `orders-${site}`, site, meshPort: node.port });
    }
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
  });
  after(async () => {
    await web.close(500);
    for (const node of nodes) await node.close(500);
    for (const app of apps) await app.kill();
  });

  const servedBy = async (): Promise<string | string[] | undefined> => (await h1(web.httpPort ?? 0, { host: 'orders.mesh' })).headers['x-app'];

  it('serves from the local site while it has a usable instance', async () => {
    assert.equal(await servedBy(), 'eu');
    assert.deepEqual(web.failovers(), []);
  });

  it('fails over to the same region first, and says why', async () => {
    catalog.replace('orders-eu', { health: 'critical' });
    assert.equal(await servedBy(), 'eu2');
    const [record] = web.failovers();
    assert.deepEqual({ ...record, since: undefined }, {
      service: 'orders',
      fromSite: 'eu',
      toSite: 'eu2',
      reason: 'no usable instance in site eu (1 critical)',
      since: undefined,
      degraded: true,
    });
    assert.ok(Date.now() - Date.parse(record?.since ?? '') < 5000);
  });

  it('then to another region, never to an instance that is not exported', async () => {
    const since = web.failovers()[0]?.since;
    catalog.replace('orders-eu2', { usable: false, stale: true });
    assert.equal(await servedBy(), 'us');
    assert.deepEqual(web.failovers()[0]?.reason, 'no usable instance in site eu (1 critical); no usable instance in region eu-west (1 stale)');
    assert.equal(web.failovers()[0]?.since, since);
    catalog.replace('orders-us', { exported: false });
    const refused = await h1(web.httpPort ?? 0, { host: 'orders.mesh' });
    assert.equal(refused.status, 503);
    assert.match(bodyJson<{ message: string }>(refused).message, /no instance in other regions/);
    catalog.replace('orders-us', { exported: true });
  });

  it('returns home when the local instance recovers', async () => {
    catalog.replace('orders-eu', { health: 'passing' });
    catalog.replace('orders-eu2', { usable: true, stale: false });
    assert.equal(await servedBy(), 'eu');
    assert.deepEqual(web.failovers(), []);
  });

  it('moves off a local instance whose agent is gone, within the failover goal', async () => {
    await (nodes[0] as InboundProxy).close(0);
    const started = Date.now();
    assert.equal(await servedBy(), 'eu2');
    assert.ok(Date.now() - started < 1000);
    assert.match(web.failovers()[0]?.reason ?? '', /all 1 usable instance\(s\) in site eu failing/);
  });
});

describe('Balancer outlier ejection', () => {
  it('ejects after consecutive 5xx for a base time that grows on repeat, then forgives', () => {
    let now = 0;
    const entries = [entry({ service: 's', instanceId: 'x', site: 'eu', meshPort: 1 }), entry({ service: 's', instanceId: 'y', site: 'eu', meshPort: 2 })];
    const balancer = new Balancer({ locality: { site: 'eu', region: REGION.eu ?? '' }, candidates: () => entries, outlier: { consecutive5xx: 2 }, now: () => now });
    const x = entries[0]?.instance;
    assert.ok(x !== undefined);
    balancer.responded(x, 500);
    balancer.responded(x, 200);
    balancer.responded(x, 503);
    assert.equal(balancer.isEjected(x), false, 'a success resets the count');
    balancer.responded(x, 503);
    assert.equal(balancer.isEjected(x), true);
    assert.ok(Array.from({ length: 20 }, () => balancer.pick('s').instanceId).every((id) => id === 'y'));
    now = 1000;
    assert.equal(balancer.isEjected(x), false, 'first ejection: 1 s');
    balancer.connectFailed(x);
    now = 2500;
    assert.equal(balancer.isEjected(x), true, 'second ejection: 2 s');
    now = 3000 + 30_001 + 1;
    balancer.connectFailed(x);
    now += 1000;
    assert.equal(balancer.isEjected(x), false, 'forgiven after a clean max-ejection period: back to 1 s');
  });
});
