/**
 * The Consul-compatible API through the `consul` npm client: a real registrar and federated view
 * on a real nats-server holding two sites' catalogs (east, this agent's; west, another site's).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Consul from 'consul';
import { eventually } from '../../support/harness.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { EAST, TOKEN, startConsulFixture, type ConsulFixture } from './api-support.js';

interface HealthEntry {
  Node: { Node: string; Datacenter: string; ID: string; Meta: Record<string, string> };
  Service: { ID: string; Service: string; Tags: string[]; Meta: Record<string, string>; Port: number; Address: string; Datacenter: string };
  Checks: { CheckID: string; Status: string; Output: string; ServiceID: string }[];
}

let fx: ConsulFixture;
let consul: Consul;
let app: TestApp;

before(async () => {
  fx = await startConsulFixture();
  app = await startHttpApp('web', 'http');
  const url = new URL(fx.api.url);
  consul = new Consul({ host: url.hostname, port: Number(url.port), defaults: { token: TOKEN } });
  await fx.putWest('payments', 'west-1', { instanceId: 'payments-w1', ports: { http: 9101 }, labels: { 'consul.tag.0': 'v2', team: 'pay' } });
  await fx.putWest('payments', 'west-2', { instanceId: 'payments-w2', ports: { http: 9102 }, labels: { team: 'pay' } });
  await eventually(() => assert.equal(fx.view.query({ service: 'payments' }).length, 2));
});
after(async () => {
  consul.destroy();
  await app.kill();
});

async function health(service: string, options: { passing?: boolean; dc?: string; filter?: string } = {}): Promise<HealthEntry[]> {
  return (await consul.health.service({ service, ...options })) as HealthEntry[];
}

describe('Consul-compatible API with the consul npm client', () => {
  it('lists the sites as datacenters, this agent first', async () => {
    assert.deepEqual(await consul.catalog.datacenters(), ['east', 'west']);
    const self = (await consul.agent.self()) as { Config: { Datacenter: string; NodeName: string } };
    assert.equal(self.Config.Datacenter, 'east');
    assert.equal(self.Config.NodeName, 'east-1');
  });

  it('serves a federated site as its datacenter: services, instances and nodes of west', async () => {
    assert.deepEqual(await consul.catalog.service.list({ dc: 'west' }), { payments: ['v2'] });
    const nodes = (await consul.catalog.service.nodes({ service: 'payments', dc: 'west' })) as Record<string, unknown>[];
    assert.deepEqual(
      nodes.map((n) => [n['Node'], n['Datacenter'], n['ServiceID'], n['ServicePort'], n['ServiceTags'], n['ServiceMeta']]),
      [
        ['west-1', 'west', 'payments-w1', 9101, ['v2'], { team: 'pay' }],
        ['west-2', 'west', 'payments-w2', 9102, [], { team: 'pay' }],
      ],
    );
    const entries = await health('payments', { dc: 'west' });
    assert.deepEqual(entries.map((e) => [e.Node.Datacenter, e.Service.ID, e.Checks[0]?.CheckID]), [['west', 'payments-w1', 'service:payments-w1'], ['west', 'payments-w2', 'service:payments-w2']]);
    // The local datacenter has no payments: an empty list, as Consul answers an unknown service.
    assert.deepEqual(await health('payments'), []);
    const node = (await consul.catalog.node.services({ node: 'west-1', dc: 'west' })) as { Node: { Datacenter: string }; Services: Record<string, { Port: number }> };
    assert.equal(node.Node.Datacenter, 'west');
    assert.equal(node.Services['payments-w1']?.Port, 9101);
  });

  it('registers a service with a TTL check: critical until passed, then passing, fail makes it critical, deregister removes it everywhere', async () => {
    await consul.agent.service.register({ name: 'web', id: 'web-1', port: app.port, tags: ['v1', 'traefik.enable=true'], meta: { team: 'web' }, check: { name: 'web alive', ttl: '30s', timeout: '1s' } });
    const services = (await consul.agent.service.list()) as Record<string, { Service: string; Port: number; Tags: string[]; Meta: Record<string, string> }>;
    assert.deepEqual(services['web-1'], { ID: 'web-1', Service: 'web', Tags: ['v1', 'traefik.enable=true'], Address: '127.0.0.1', Meta: { team: 'web' }, Port: app.port, Weights: { Passing: 100, Warning: 1 }, EnableTagOverride: false, Datacenter: 'east' });
    // A Meridian service: in the site's catalog, seen by the federated view.
    const registration = fx.registrar.list().find((r) => r.instance.instanceId === 'web-1');
    assert.equal(registration?.instance.service, 'web');
    assert.deepEqual(registration?.definition.check, { type: 'ttl', ttl: '30000ms' });
    const critical = await eventually(async () => (await health('web'))[0] ?? assert.fail('web not in the catalog yet'));
    assert.equal(critical.Checks[0]?.Status, 'critical');
    assert.deepEqual(await health('web', { passing: true }), []);
    await consul.agent.check.pass({ id: 'service:web-1' });
    const passing = await eventually(async () => (await health('web', { passing: true }))[0] ?? assert.fail('not passing yet'));
    assert.deepEqual([passing.Service.Tags, passing.Node.Node, passing.Checks[0]?.Status], [['v1', 'traefik.enable=true'], EAST.node, 'passing']);
    await consul.agent.check.fail({ id: 'service:web-1', note: 'disk full' });
    await eventually(async () => assert.equal((await health('web'))[0]?.Checks[0]?.Status, 'critical'));
    await consul.agent.service.deregister({ id: 'web-1' });
    await eventually(async () => assert.deepEqual(await health('web'), []));
    assert.deepEqual(await consul.agent.service.list(), {});
  });

  it('maps an HTTP check onto a Meridian http check against the running app', async () => {
    await consul.agent.service.register({ name: 'web-http', id: 'web-http-1', port: app.port, check: { name: 'web http', http: `http://127.0.0.1:${app.port}/healthz`, interval: '500ms', timeout: '1s' } });
    const registration = fx.registrar.list().find((r) => r.instance.instanceId === 'web-http-1');
    assert.deepEqual(registration?.definition.check, { type: 'http', port: app.port, path: '/healthz', interval: '500ms', timeout: '1000ms' });
    await eventually(async () => assert.equal((await health('web-http', { passing: true })).length, 1));
    await consul.agent.service.deregister({ id: 'web-http-1' });
  });

  it('answers a blocking health query as soon as the service changes, with a higher X-Consul-Index', async () => {
    const method = (options: Parameters<typeof consul.health.service>[0]): Promise<unknown> => consul.health.service(options);
    const watch = consul.watch({ method, options: { service: 'orders', dc: 'west', wait: '60s' }, backoffFactor: 50 });
    const changes: { at: number; entries: HealthEntry[]; index: string }[] = [];
    watch.on('change', (data: HealthEntry[], res: { headers: Record<string, string> }) => changes.push({ at: Date.now(), entries: data, index: res.headers['x-consul-index'] ?? '' }));
    watch.on('error', () => undefined);
    try {
      await eventually(() => assert.equal(changes.length, 1));
      // The watcher now holds a blocking query on the agent, not a poll loop.
      await eventually(() => assert.equal(fx.api.blockingQueries(), 1));
      const start = Date.now();
      await fx.putWest('orders', 'west-3', { instanceId: 'orders-1', ports: { http: 9200 } });
      const seen = await eventually(() => changes.find((c) => c.entries.length === 1) ?? assert.fail('no change yet'));
      const first = changes[0];
      assert.ok(first !== undefined && Number(seen.index) > Number(first.index), `index ${seen.index} after ${first?.index}`);
      assert.ok(seen.at - start < 2000, `the change reached the watcher after ${seen.at - start} ms`);
    } finally {
      watch.end();
    }
  });

  it('filters with the supported subset and refuses the rest naming it', async () => {
    const byMeta = await health('payments', { dc: 'west', filter: 'Service.Meta.team == "pay" and "v2" in Service.Tags' });
    assert.deepEqual(byMeta.map((e) => e.Service.ID), ['payments-w1']);
    const byNode = await health('payments', { dc: 'west', filter: 'Node.Node != west-1' });
    assert.deepEqual(byNode.map((e) => e.Service.ID), ['payments-w2']);
    // The client shows the status line for long messages; the text/plain body names what is unsupported.
    await assert.rejects(health('payments', { dc: 'west', filter: 'Service.ID == a or Service.ID == b' }), (error: Error & { response?: { statusCode: number; body: unknown } }) => {
      assert.equal(error.message, 'bad request');
      assert.equal(error.response?.statusCode, 400);
      assert.match(String(error.response.body), /^filter: "or" is not supported \(supported: /);
      return true;
    });
  });

  it('names the leader while the agent reaches NATS', async () => {
    assert.equal(await consul.status.leader(), new URL(fx.api.url).host);
  });
});
