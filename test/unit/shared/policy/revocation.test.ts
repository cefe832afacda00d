import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRevocations, parsePolicySet } from '../../../../shared/policy/index.js';
import { TD } from './fixtures.js';

const YAML = `kind: Revocation
metadata: { name: incidents }
spec:
  entries:
    - { identity: spiffe://acme.internal/site/eu/svc/orders, notAfter: 2027-01-02T00:00:00Z }
    - { serial: "0a:1B:ff", notAfter: 2027-01-02T00:00:00Z }
    - { serial: "CAFE", notAfter: 2026-11-01T00:00:00Z }
`;
const set = parsePolicySet([{ file: 'r.yaml', text: YAML }], { trustDomain: TD });
const NOW = Date.parse('2026-12-01T00:00:00Z');
const list = compileRevocations(set, NOW);

describe('compileRevocations', () => {
  it('revokes a serial in any spelling (case, colons, leading zeros)', () => {
    for (const serial of ['0A1BFF', 'a1bff', '0a:1b:ff', '000A1BFF']) assert.equal(list.isRevoked({ uri: undefined, serial, notAfter: NOW + 1 }), true, serial);
    assert.equal(list.isRevoked({ uri: undefined, serial: '0A1BFE', notAfter: NOW + 1 }), false);
  });

  it('revokes the certificates of an identity expiring by the entry, not one issued later', () => {
    const uri = 'spiffe://acme.internal/site/eu/svc/orders';
    assert.equal(list.isRevoked({ uri, serial: '01', notAfter: new Date('2027-01-02T00:00:00Z') }), true);
    assert.equal(list.isRevoked({ uri, serial: '02', notAfter: Date.parse('2027-01-03T00:00:00Z') }), false);
    assert.equal(list.isRevoked({ uri: 'spiffe://acme.internal/site/us/svc/orders', serial: '03', notAfter: NOW + 1 }), false);
  });

  it('drops entries already expired at compile time: the list stays small', () => {
    assert.equal(list.size, 2);
    assert.equal(list.isRevoked({ uri: undefined, serial: 'CAFE', notAfter: NOW - 1 }), false);
    assert.equal(compileRevocations(set, Date.parse('2027-01-02T00:00:00Z')).size, 0);
    assert.equal(compileRevocations(set, new Date('2026-10-01T00:00:00Z')).size, 3);
  });
});
