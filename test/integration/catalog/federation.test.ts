import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  FederatedView,
  ensureSiteBucket,
  openSiteBucket,
  parseServiceDefinition,
  SiteCatalogWriter,
  toInstance,
  type ServiceInstance,
} from '../../../shared/catalog/index.js';
import { eventually, uniqueName } from '../../support/harness.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';

const SITES = ['site-a', 'site-b', 'site-c'];
let fed: SecureFederation;
const views = new Map<string, FederatedView>();
const writers = new Map<string, SiteCatalogWriter>();

before(async () => {
  fed = await startSecureFederation(SITES);
  for (const site of SITES) {
    const nc = await fed.connectAgent(site, `${site}-node-1`);
    writers.set(site, new SiteCatalogWriter(await ensureSiteBucket(nc, site), site));
    const view = new FederatedView({ staleAfterMs: 1500, discoveryIntervalMs: 1000 });
    view.connect(nc);
    views.set(site, view);
  }
  await Promise.all([...views.values()].map((v) => v.ready(20_000)));
});
after(() => {
  for (const view of views.values()) view.close();
});

const view = (site: string): FederatedView => views.get(site) ?? assert.fail(site);
const writer = (site: string): SiteCatalogWriter => writers.get(site) ?? assert.fail(site);

function instance(site: string, service: string, node: string, extra: Record<string, unknown> = {}): ServiceInstance {
  const definition = parseServiceDefinition({ service, ports: { http: 8080 }, labels: { tier: 'backend' }, ...extra }, 'test');
  return toInstance(definition, fed.node(site, node), { leaseTtlMs: 1000 });
}

async function register(site: string, node: string, service: string, extra: Record<string, unknown> = {}): Promise<ServiceInstance> {
  const record = instance(site, service, node, extra);
  await writer(site).renewLease(node, 1000);
  await writer(site).put(record);
  return record;
}

describe('federated catalog on a 3-site supercluster', () => {
  it('an instance registered at A is seen at B and C with its fields', async () => {
    const service = uniqueName('payments');
    const record = await register('site-a', 'site-a-node-1', service);
    for (const site of ['site-b', 'site-c']) {
      const entry = await eventually(() => view(site).query({ service })[0] ?? assert.fail(`${service} not yet at ${site}`), { timeoutMs: 5000 });
      assert.deepEqual(entry?.instance, record);
      assert.equal(entry?.stale, false);
    }
    assert.equal(view('site-c').query({ service, site: 'site-b' }).length, 0);
    assert.equal(view('site-c').query({ service, labels: { tier: 'frontend' } }).length, 0);
    assert.equal(view('site-c').query({ service, region: 'region-site-a', labels: { tier: 'backend' } }).length, 1);
  });

  it("site A's credential cannot write site B's entries", async () => {
    const nc: NatsConnection = await fed.connectAgent('site-a', 'site-a-intruder');
    const bBucket = await openSiteBucket(nc, 'site-b');
    await assert.rejects(bBucket.put('svc.evil.x', JSON.stringify(instance('site-b', 'evil', 'n'))), { message: 'Permissions Violation for Publish to "$KV.catalog-site-b.svc.evil.x"' });
    const aWriter = new SiteCatalogWriter(bBucket, 'site-b');
    await assert.rejects(aWriter.put(instance('site-b', 'evil', 'n')), /catalog write to site site-b failed: Permissions Violation for Publish/);
    await assert.rejects(fed.connectAgent('site-a', 'site-a-node-1', 'site-b'), { message: 'Authorization Violation' });
    assert.equal(view('site-b').query({ service: 'evil' }).length, 0);
  });
});
