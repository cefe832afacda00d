import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMeridianError } from '../../../../shared/errors/index.js';
import { compileRateLimits, parsePolicySet, type PolicyViolation } from '../../../../shared/policy/index.js';
import { svc, TD } from './fixtures.js';

const LIMIT = `kind: RateLimit
metadata: { name: payments-api }
spec:
  service: payments
  match: { paths: [{ prefix: /api/ }], methods: [POST], from: ['spiffe://acme.internal/site/*/svc/orders'] }
  local: { rate: 100, per: 1s, burst: 20 }
  global: { rate: 1000, per: 1m, by: caller, onRedisLoss: closed }
`;

function problems(text: string): string[] {
  try {
    parsePolicySet([{ file: 'p.yaml', text }], { trustDomain: TD });
  } catch (error) {
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID'), String(error));
    return (error.details?.violations as PolicyViolation[]).map((v) => `${v.path}: ${v.message}`);
  }
  return assert.fail('the set was accepted');
}

describe('RateLimit documents', () => {
  it('are read and compiled: buckets per ms, the match on method, path prefix and caller pattern', () => {
    const set = parsePolicySet([{ file: 'p.yaml', text: LIMIT }], { trustDomain: TD });
    const limits = compileRateLimits(set);
    const [limit] = limits.forService('payments');
    assert.ok(limit !== undefined);
    assert.equal(limits.forService('ledger').length, 0);
    assert.deepEqual(limit.local, { rate: 100, periodMs: 1000, ratePerMs: 0.1, capacity: 20, byCaller: false });
    assert.deepEqual(limit.global, { rate: 1000, periodMs: 60_000, ratePerMs: 1000 / 60_000, capacity: 1000, byCaller: true, failOpen: false });
    assert.equal(limit.matches(svc('eu', 'orders'), 'POST', '/api/pay'), true);
    assert.equal(limit.matches(svc('eu', 'orders'), 'GET', '/api/pay'), false);
    assert.equal(limit.matches(svc('eu', 'orders'), 'POST', '/apix'), false);
    assert.equal(limit.matches(svc('eu', 'web'), 'POST', '/api/pay'), false);
    // The same document keeps its buckets' key; a changed one gets another.
    const again = compileRateLimits(parsePolicySet([{ file: 'q.yaml', text: LIMIT }], { trustDomain: TD })).forService('payments')[0];
    const changed = compileRateLimits(parsePolicySet([{ file: 'q.yaml', text: LIMIT.replace('rate: 100', 'rate: 99') }], { trustDomain: TD })).forService('payments')[0];
    assert.equal(again?.key, limit.key);
    assert.notEqual(changed?.key, limit.key);
  });

  it('refuses bad limits with every violation and its path, and changes nothing', () => {
    const bad = `kind: RateLimit
metadata: { name: bad }
spec:
  service: payments
  match: { paths: [{ prefix: /a/../b }], from: ['spiffe://evil.example/**'], hosts: [x] }
  local: { rate: 0, per: 1 }
  global: { rate: 10, per: 0ms, by: route, onRedisLoss: maybe }
---
kind: RateLimit
metadata: { name: empty }
spec: { service: payments }
`;
    assert.deepEqual(problems(bad), [
      '/spec/match/hosts: Unexpected property',
      '/spec/local/rate: Expected integer to be greater or equal to 1',
      '/spec/local/per: Expected string',
      "/spec/global/by: expected 'service' or 'caller'",
      "/spec/global/onRedisLoss: expected 'open' or 'closed'",
      '/spec/match/from/0: "spiffe://evil.example/**": trust domain "evil.example" is not the federation\'s ("acme.internal")',
      '/spec/match/paths/0: "/a/../b" is not normalised (requests are judged as "/b")',
      '/spec/global/per: "0ms": a rate\'s period is at least 1ms',
      '/spec: a rate limit needs local, global or both',
    ]);
  });
});
