import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Answer } from 'dns-packet';
import { MAX_INSTANCES_PER_ANSWER, answerQuestion, type ZoneQuestion } from '../../../../agent/dns/index.js';
import { SeededCatalog, zoneOf } from './support.js';

function ask(name: string, type = 'A', klass = 'IN'): ZoneQuestion {
  return { name, type, class: klass };
}

function dataOf(record: Answer): unknown {
  return 'data' in record ? record.data : undefined;
}

function catalog(): SeededCatalog {
  const c = new SeededCatalog();
  c.add(
    { service: 'payments', instanceId: 'p1', site: 'east', address: '10.0.0.1', port: 8080 },
    { service: 'payments', instanceId: 'p2', site: 'east', address: '10.0.0.2', port: 8081 },
    { service: 'payments', instanceId: 'p3', site: 'east', address: '10.0.0.3', port: 8082, health: 'critical' },
    { service: 'payments', instanceId: 'w1', site: 'west', address: '10.1.0.1', port: 9090 },
    { service: 'ledger', instanceId: 'l1', site: 'east', address: '10.0.0.9', port: 7000, health: 'critical' },
    { service: 'ipv6', instanceId: 'v1', site: 'east', address: 'fd00::1', port: 7001 },
  );
  return c;
}

describe('DNS zones: names, records and response codes', () => {
  it('<svc>.mesh is the outbound listener address for a service the catalog knows, whatever its site', () => {
    const zone = zoneOf(catalog());
    const answer = answerQuestion(zone, ask('payments.mesh'));
    assert.equal(answer.rcode, 'NOERROR');
    assert.deepEqual(answer.answers, [{ name: 'payments.mesh', type: 'A', class: 'IN', ttl: 5, data: '127.0.0.1' }]);
    assert.equal(answerQuestion(zone, ask('nosuch.mesh')).rcode, 'NXDOMAIN');
    assert.equal(answerQuestion(zone, ask('a.payments.mesh')).rcode, 'NXDOMAIN');
  });

  it('<svc>.mesh without an outbound HTTP listener: the name exists with no address (NOERROR, empty, SOA)', () => {
    const answer = answerQuestion(zoneOf(catalog(), { meshAddress: undefined }), ask('payments.mesh'));
    assert.equal(answer.rcode, 'NOERROR');
    assert.deepEqual(answer.answers, []);
    assert.equal(answer.authorities[0]?.type, 'SOA');
  });

  it('case and the trailing dot do not matter; the owner name is echoed as asked', () => {
    const zone = zoneOf(catalog());
    const answer = answerQuestion(zone, ask('PayMents.Service.CONSUL.'));
    assert.equal(answer.rcode, 'NOERROR');
    assert.deepEqual(answer.answers.map((r) => r.name), ['PayMents.Service.CONSUL.', 'PayMents.Service.CONSUL.']);
    assert.equal(answerQuestion(zone, ask('PAYMENTS.MESH.')).answers.length, 1);
  });

  it('<svc>.service.consul: A records of the local site usable instances only (critical ones left out)', () => {
    const answer = answerQuestion(zoneOf(catalog()), ask('payments.service.consul'));
    assert.deepEqual(answer.answers.map((r) => dataOf(r)).sort(), ['10.0.0.1', '10.0.0.2']);
  });

  it('<svc>.service.<site>.consul names a site; an unknown site or service is NXDOMAIN', () => {
    const zone = zoneOf(catalog());
    assert.deepEqual(answerQuestion(zone, ask('payments.service.west.consul')).answers.map((r) => dataOf(r)), ['10.1.0.1']);
    assert.equal(answerQuestion(zone, ask('payments.service.mars.consul')).rcode, 'NXDOMAIN');
    assert.equal(answerQuestion(zone, ask('nosuch.service.consul')).rcode, 'NXDOMAIN');
    assert.equal(answerQuestion(zone, ask('ledger.service.west.consul')).rcode, 'NXDOMAIN');
    assert.equal(answerQuestion(zone, ask('x.payments.service.east.consul')).rcode, 'NXDOMAIN');
    assert.equal(answerQuestion(zone, ask('payments.nodes.consul')).rcode, 'NXDOMAIN');
  });

  it('a service whose instances are all unusable exists with no records: NOERROR, empty, SOA with the TTL as minimum', () => {
    const answer = answerQuestion(zoneOf(catalog(), { ttl: 3 }), ask('ledger.service.consul'));
    assert.equal(answer.rcode, 'NOERROR');
    assert.deepEqual(answer.answers, []);
    const soa = answer.authorities[0];
    assert.equal(soa?.type, 'SOA');
    assert.equal(soa.type === 'SOA' ? soa.data.minimum : -1, 3);
  });

  it('staleness follows the catalog: keep-last-known within its budget, fail-closed at once', () => {
    const c = new SeededCatalog({ staleAfterMs: 1000 });
    c.add(
      { service: 'keep', instanceId: 'k1', site: 'west', address: '10.1.0.5', port: 1, partition: { mode: 'keep-last-known', maxStalenessMs: 10_000 } },
      { service: 'strict', instanceId: 's1', site: 'west', address: '10.1.0.6', port: 1, partition: { mode: 'fail-closed', maxStalenessMs: 10_000 } },
    );
    const zone = zoneOf(c);
    c.now += 5000;
    assert.equal(answerQuestion(zone, ask('keep.service.west.consul')).answers.length, 1);
    const strict = answerQuestion(zone, ask('strict.service.west.consul'));
    assert.equal(strict.rcode, 'NOERROR');
    assert.equal(strict.answers.length, 0);
    c.now += 10_000;
    assert.equal(answerQuestion(zone, ask('keep.service.west.consul')).answers.length, 0);
  });

  it('SRV: one record per usable instance on its first port, targets <hex>.addr.<site>.consul with glue; the target resolves', () => {
    const zone = zoneOf(catalog());
    const answer = answerQuestion(zone, ask('payments.service.consul', 'SRV'));
    const srv = answer.answers.map((r) => (r.type === 'SRV' ? `${r.data.port} ${r.data.target}` : '')).sort();
    assert.deepEqual(srv, ['8080 0a000001.addr.east.consul', '8081 0a000002.addr.east.consul']);
    assert.deepEqual(answer.additionals.map((r) => `${r.name} ${r.type} ${String(dataOf(r))}`).sort(), ['0a000001.addr.east.consul A 10.0.0.1', '0a000002.addr.east.consul A 10.0.0.2']);
    assert.deepEqual(answerQuestion(zone, ask('0a000001.addr.east.consul')).answers.map((r) => dataOf(r)), ['10.0.0.1']);
    assert.deepEqual(answerQuestion(zone, ask('_payments._tcp.service.west.consul', 'SRV')).answers.length, 1);
    assert.equal(answerQuestion(zone, ask('zzzz.addr.east.consul')).rcode, 'NXDOMAIN');
  });

  it('IPv6 instances answer AAAA (A stays empty); SRV targets name their 32 hex digits', () => {
    const zone = zoneOf(catalog());
    assert.deepEqual(answerQuestion(zone, ask('ipv6.service.consul', 'AAAA')).answers.map((r) => dataOf(r)), ['fd00::1']);
    assert.equal(answerQuestion(zone, ask('ipv6.service.consul', 'A')).answers.length, 0);
    const srv = answerQuestion(zone, ask('ipv6.service.consul', 'SRV'));
    assert.equal(srv.additionals[0]?.name, 'fd000000000000000000000000000001.addr.east.consul');
    const back = answerQuestion(zone, ask('fd000000000000000000000000000001.addr.east.consul', 'AAAA'));
    assert.deepEqual(back.answers.map((r) => dataOf(r)), ['fd00:0000:0000:0000:0000:0000:0000:0001']);
  });

  it('ANY gets the addresses only (RFC 8482); unknown and other types get NOERROR, empty, for a name that exists', () => {
    const zone = zoneOf(catalog());
    assert.deepEqual(answerQuestion(zone, ask('payments.service.consul', 'ANY')).answers.map((r) => r.type), ['A', 'A']);
    for (const type of ['TXT', 'MX', 'UNKNOWN_65280', 'CNAME']) {
      const answer = answerQuestion(zone, ask('payments.service.consul', type));
      assert.equal(answer.rcode, 'NOERROR', type);
      assert.equal(answer.answers.length, 0, type);
    }
    assert.equal(answerQuestion(zone, ask('nosuch.service.consul', 'TXT')).rcode, 'NXDOMAIN');
  });

  it('the zone apexes answer SOA; names outside .mesh and .consul, and classes but IN and ANY, are REFUSED', () => {
    const zone = zoneOf(catalog());
    assert.equal(answerQuestion(zone, ask('consul', 'SOA')).answers[0]?.type, 'SOA');
    assert.equal(answerQuestion(zone, ask('mesh.', 'A')).rcode, 'NOERROR');
    assert.equal(answerQuestion(zone, ask('example.com')).rcode, 'REFUSED');
    assert.equal(answerQuestion(zone, ask('.')).rcode, 'REFUSED');
    assert.equal(answerQuestion(zone, ask('payments.mesh', 'TXT', 'CH')).rcode, 'REFUSED');
    assert.equal(answerQuestion(zone, ask('payments.mesh', 'A', 'UNKNOWN_999')).rcode, 'REFUSED');
    assert.equal(answerQuestion(zone, ask('payments.mesh', 'A', 'ANY')).answers.length, 1);
  });

  it('a label that is no service name (underscores, too long) is NXDOMAIN, never a catalog lookup', () => {
    const zone = zoneOf(catalog());
    assert.equal(answerQuestion(zone, ask('pay_ments.service.consul')).rcode, 'NXDOMAIN');
    assert.equal(answerQuestion(zone, ask(`${'a'.repeat(64)}.mesh`)).rcode, 'NXDOMAIN');
  });

  it(`a service with more instances than ${MAX_INSTANCES_PER_ANSWER} answers a random sample of that many`, () => {
    const c = new SeededCatalog();
    for (let i = 0; i < MAX_INSTANCES_PER_ANSWER + 100; i++) {
      c.add({ service: 'big', instanceId: `b${i}`, site: 'east', address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 1000 });
    }
    const first = answerQuestion(zoneOf(c), ask('big.service.consul'));
    assert.equal(first.answers.length, MAX_INSTANCES_PER_ANSWER);
    const second = answerQuestion(zoneOf(c), ask('big.service.consul'));
    assert.notDeepEqual(first.answers.map((r) => dataOf(r)), second.answers.map((r) => dataOf(r)));
  });
});
