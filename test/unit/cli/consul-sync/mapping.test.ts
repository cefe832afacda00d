import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consulHealth, safeId, toConsul, toMeridian } from '../../../../cli/consul-sync/mapping.js';
import type { InstanceRow } from '../../../../agent/api/index.js';

const OPTIONS = { datacenter: 'dc1', protocol: 'http', export: false, ttl: '30s' } as const;

function entry(overrides: { service?: Record<string, unknown>; checks?: Record<string, unknown>[] } = {}): Record<string, unknown> {
  return {
    Node: { Node: 'node-a', Address: '10.0.0.5' },
    Service: { ID: 'payments-1', Service: 'payments', Tags: ['v2', 'blue'], Address: '', Port: 8080, Meta: { version: '2.1.0', team: 'pay' }, ...overrides.service },
    Checks: overrides.checks ?? [{ Status: 'passing', Name: 'Serf Health Status', Output: 'Agent alive' }],
  };
}

describe('consul sync mapping', () => {
  it('turns a Consul health entry into a Meridian definition with the loop mark, its origin, tags and meta as labels', () => {
    assert.deepEqual(toMeridian(entry(), OPTIONS), {
      id: 'consul-dc1-node-a-payments-1',
      health: 'passing',
      note: '',
      body: {
        service: 'payments',
        instanceId: 'consul-dc1-node-a-payments-1',
        address: '10.0.0.5',
        ports: { http: 8080 },
        protocol: 'http',
        version: '2.1.0',
        labels: { version: '2.1.0', team: 'pay', 'consul-dc': 'dc1', 'consul-node': 'node-a', 'consul-id': 'payments-1', 'consul-tags': 'v2,blue', 'external-source': 'consul' },
        weight: 100,
        check: { type: 'ttl', ttl: '30s' },
        export: false,
        partition: { mode: 'keep-last-known' },
      },
    });
  });

  it('skips what a sync wrote, names that are not DNS labels, no port, and malformed entries, saying why', () => {
    assert.deepEqual(toMeridian(entry({ service: { Meta: { 'external-source': 'meridian' } } }), OPTIONS), { skip: 'mirrored from Meridian by a sync' });
    assert.deepEqual(toMeridian(entry({ service: { Service: 'Payments_API' } }), OPTIONS), { skip: 'service name "Payments_API" is not a lower-case DNS label' });
    assert.deepEqual(toMeridian(entry({ service: { Port: 0 } }), OPTIONS), { skip: 'instance payments-1 has no port (0)' });
    assert.deepEqual(toMeridian({ Node: {}, Service: {}, Checks: [] }, OPTIONS), { skip: 'a malformed health entry: /Node/Node' });
  });

  it('is critical when any check is critical or in maintenance; warning counts as passing', () => {
    assert.deepEqual(consulHealth([{ Status: 'passing' }, { Status: 'warning' }]), { health: 'passing', note: '' });
    assert.deepEqual(consulHealth([{ Status: 'passing' }, { Status: 'critical', Name: 'http', Output: 'HTTP 503' }]), { health: 'critical', note: 'critical in Consul: http: HTTP 503' });
    assert.equal(consulHealth([{ Status: 'maintenance' }]).health, 'critical');
  });

  it('keeps ids valid and unique: characters Meridian refuses are replaced and a hash is added', () => {
    assert.equal(safeId('consul', ['dc1', 'n', 'a']), 'consul-dc1-n-a');
    const odd = safeId('consul', ['dc1', 'node one', 'svc:1']);
    assert.match(odd, /^consul-dc1-node_one-svc_1-[0-9a-f]{12}$/);
    assert.notEqual(odd, safeId('consul', ['dc1', 'node_one', 'svc_1']));
    assert.ok(safeId('consul', ['x'.repeat(300)]).length <= 128);
  });

  it('turns a Meridian row into a Consul registration with the loop mark, and skips what came from Consul', () => {
    const row = {
      service: 'orders', instanceId: 'east-1-orders-9000', site: 'east', address: '127.0.0.1', ports: { http: 9000 }, protocol: 'http', version: '1.0.0',
      labels: { team: 'shop', 'bad key': 'x' }, health: 'passing', usable: true, stale: false, ageMs: 10,
    } as unknown as InstanceRow;
    assert.deepEqual(toConsul(row, '30s'), {
      id: 'meridian-east-east-1-orders-9000',
      health: 'passing',
      note: '',
      body: {
        id: 'meridian-east-east-1-orders-9000',
        name: 'orders',
        address: '127.0.0.1',
        port: 9000,
        tags: ['meridian', 'site=east'],
        meta: { team: 'shop', 'external-source': 'meridian', 'meridian-site': 'east', 'meridian-instance': 'east-1-orders-9000', protocol: 'http', version: '1.0.0' },
        check: { ttl: '30s', name: 'Meridian health', notes: 'mirrored by meridian consul sync from site east' },
      },
    });
    assert.deepEqual(toConsul({ ...row, health: 'critical', usable: false }, '30s'), { ...toConsul(row, '30s'), health: 'critical', note: 'critical in Meridian' });
    assert.deepEqual(toConsul({ ...row, labels: { 'external-source': 'consul' } }, '30s'), { skip: 'mirrored from Consul by a sync' });
  });
});
