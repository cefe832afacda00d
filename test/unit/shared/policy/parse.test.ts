import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMeridianError } from '../../../../shared/errors/index.js';
import { parsePolicySet, type PolicySource, type PolicyViolation } from '../../../../shared/policy/index.js';
import { TD } from './fixtures.js';

const ALLOW = `kind: Authorization
metadata: { name: payments-callers }
spec:
  action: allow
  service: payments
  rules:
    - from: [spiffe://acme.internal/site/*/svc/orders]
      to: [{ methods: [GET], paths: [{ prefix: /api/ }] }]
`;
const DEFAULTS = `kind: PolicyDefaults
metadata: { name: federation }
spec: { defaultAction: allow, mtls: { services: { legacy: permissive } } }
`;
const REVOKED = `kind: Revocation
metadata: { name: stolen }
spec:
  entries:
    - { identity: spiffe://acme.internal/site/eu/svc/orders, notAfter: 2026-12-31T00:00:00Z, reason: laptop stolen }
    - { serial: "0a:1b", notAfter: 2026-12-31T00:00:00Z }
`;

function violations(sources: PolicySource[]): { message: string; list: PolicyViolation[] } {
  try {
    parsePolicySet(sources, { trustDomain: TD });
  } catch (error) {
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID'), String(error));
    assert.equal(error.statusCode, 400);
    return { message: error.message, list: error.details?.violations as PolicyViolation[] };
  }
  assert.fail('the set was accepted');
}

function oneFile(text: string): { message: string; list: PolicyViolation[] } {
  return violations([{ file: 'p.yaml', text }]);
}

describe('parsePolicySet', () => {
  it('reads every kind from multi-document files, frozen, with the defaults applied', () => {
    const set = parsePolicySet([{ file: 'a.yaml', text: `${ALLOW}---\n${DEFAULTS}` }, { file: 'b.yaml', text: `${REVOKED}---\n` }], { trustDomain: TD });
    assert.equal(set.authorizations.length, 1);
    assert.equal(set.authorizations[0]?.spec.rules[0]?.from[0], 'spiffe://acme.internal/site/*/svc/orders');
    assert.equal(set.revocations[0]?.spec.entries.length, 2);
    assert.equal(set.defaults.spec.defaultAction, 'allow');
    assert.ok(Object.isFrozen(set) && Object.isFrozen(set.authorizations[0]?.spec.rules));
    assert.match(set.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('without PolicyDefaults, denies by default with strict mTLS', () => {
    const set = parsePolicySet([{ file: 'a.yaml', text: ALLOW }], { trustDomain: TD });
    assert.deepEqual(set.defaults.spec, { defaultAction: 'deny', mtls: { mode: 'strict' } });
  });

  it('gives the same digest whatever the files, their order and the YAML formatting; another for other content', () => {
    const one = parsePolicySet([{ file: 'a.yaml', text: `${ALLOW}---\n${REVOKED}` }], { trustDomain: TD });
    const reordered = parsePolicySet([{ file: 'x.yml', text: REVOKED }, { file: 'y.yml', text: JSON.stringify(parsePolicySet([{ file: 'a', text: ALLOW }], { trustDomain: TD }).authorizations[0]) }], { trustDomain: TD });
    assert.equal(reordered.digest, one.digest);
    const other = parsePolicySet([{ file: 'a.yaml', text: ALLOW.replace('GET', 'PUT') }, { file: 'b.yaml', text: REVOKED }], { trustDomain: TD });
    assert.notEqual(other.digest, one.digest);
  });

  it('refuses the whole set with every violation: file, document index, JSON path and message', () => {
    const bad = ALLOW.replace('action: allow', 'action: permit').replace('methods: [GET]', 'methodz: [GET]');
    const { message, list } = violations([{ file: 'a.yaml', text: `${DEFAULTS}---\n${bad}` }, { file: 'b.yaml', text: 'kind: Route\nmetadata: { name: r }\n' }]);
    assert.deepEqual(list, [
      { file: 'a.yaml', document: 1, path: '/spec/action', message: "expected 'allow' or 'deny'" },
      { file: 'a.yaml', document: 1, path: '/spec/rules/0/to/0/methodz', message: 'Unexpected property' },
      { file: 'b.yaml', document: 0, path: '/kind', message: 'unknown kind "Route" (expected Authorization, Revocation, PolicyDefaults, RateLimit)' },
    ]);
    assert.equal(
      message,
      'invalid policy set (3 violations):\n' +
        "a.yaml#1 /spec/action: expected 'allow' or 'deny'\n" +
        'a.yaml#1 /spec/rules/0/to/0/methodz: Unexpected property\n' +
        'b.yaml#0 /kind: unknown kind "Route" (expected Authorization, Revocation, PolicyDefaults, RateLimit)',
    );
  });

  it('refuses identities of another trust domain, partial wildcards and regular expressions', () => {
    const from = '[spiffe://evil.example/site/*/svc/orders, "spiffe://acme.internal/site/eu*/svc/x", "spiffe://acme.internal/site/.+/svc/x", "spiffe://acme.internal/site/**/svc/x", spiffe://acme.internal]';
    const { list } = oneFile(ALLOW.replace('[spiffe://acme.internal/site/*/svc/orders]', from));
    assert.deepEqual(list.map((v) => `${v.path}: ${v.message}`), [
      '/spec/rules/0/from/0: "spiffe://evil.example/site/*/svc/orders": trust domain "evil.example" is not the federation\'s ("acme.internal")',
      '/spec/rules/0/from/1: "spiffe://acme.internal/site/eu*/svc/x": segment 2 "eu*": \'*\' must be a whole segment (no partial wildcards)',
      '/spec/rules/0/from/2: "spiffe://acme.internal/site/.+/svc/x": segment 2 ".+": only letters, digits, ".", "_" and "-" (patterns are not regular expressions)',
      '/spec/rules/0/from/3: "spiffe://acme.internal/site/**/svc/x": segment 2 "**": \'**\' may only end a pattern',
      '/spec/rules/0/from/4: "spiffe://acme.internal": no path (write spiffe://acme.internal/** for every identity)',
    ]);
  });

  it('refuses a policy path that is not normalised (it could never match) and ambiguous conditions', () => {
    const to = 'to: [{ paths: [{ exact: /a/../admin }, { prefix: "/x%2Fy" }, { exact: /a, prefix: /b }], headers: [{ name: x-role }] }]';
    const { list } = oneFile(ALLOW.replace(/to: .*\n/, `${to}\n`));
    assert.deepEqual(list.map((v) => `${v.path}: ${v.message}`), [
      '/spec/rules/0/to/0/paths/0: "/a/../admin" is not normalised (requests are judged as "/admin")',
      '/spec/rules/0/to/0/paths/1: "/x%2Fy": an encoded slash \'%2F\'',
      '/spec/rules/0/to/0/paths/2: exactly one of exact, prefix (got exact and prefix)',
      '/spec/rules/0/to/0/headers/0: exactly one of exact, present (got none)',
    ]);
  });

  it('refuses duplicate names (even of an invalid document), a second PolicyDefaults, bad revocations and broken YAML', () => {
    const badRevocation = REVOKED.replace('/svc/orders', '/svc/orders/extra').replace('"0a:1b"', 'zz').replace('2026-12-31T00:00:00Z, reason', '2026-13-31T00:00:00Z, reason');
    const { list } = violations([
      { file: 'a.yaml', text: `${ALLOW}---\n${DEFAULTS}` },
      { file: 'b.yaml', text: `${ALLOW.replace('action: allow', 'action: x')}---\n${DEFAULTS.replace('federation', 'other')}---\n${badRevocation}---\nkind: [unclosed\n` },
    ]);
    assert.deepEqual(list.map((v) => `${v.file}#${v.document} ${v.path}: ${v.message}`), [
      "b.yaml#0 /spec/action: expected 'allow' or 'deny'",
      "b.yaml#2 /spec/entries/1/serial: Expected string to match '^[0-9A-Fa-f]{1,40}$|^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){0,19}$'",
      'b.yaml#2 /spec/entries/0/notAfter: "2026-13-31T00:00:00Z" is not a valid instant',
      'b.yaml#2 /spec/entries/0/identity: invalid SPIFFE ID "spiffe://acme.internal/site/eu/svc/orders/extra": path must be \'/site/<site>/svc/<name>\'',
      'b.yaml#3 /: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'b.yaml#0 /metadata/name: duplicate Authorization "payments-callers" (first in a.yaml#0)',
      'b.yaml#1 /kind: a second PolicyDefaults (the federation\'s is "federation" in a.yaml#1)',
    ]);
  });

  it('refuses a revocation of another trust domain, and a document that is not a mapping', () => {
    const { list } = oneFile(`${REVOKED.replace('acme.internal', 'evil.example')}---\n- a list\n`);
    assert.deepEqual(list.map((v) => `${v.document} ${v.path}: ${v.message}`), [
      '0 /spec/entries/0/identity: SPIFFE ID "spiffe://evil.example/site/eu/svc/orders" belongs to trust domain "evil.example", expected "acme.internal"',
      '1 /: a policy document is a mapping with kind, metadata and spec',
    ]);
  });

  it('refuses header values that could never match: with a comma, or surrounding spaces', () => {
    const { list } = oneFile(ALLOW.replace(/to: .*\n/, 'to: [{ headers: [{ name: x-a, exact: "a,b" }, { name: x-b, exact: " a" }] }]\n'));
    assert.deepEqual(list.map((v) => `${v.path}: ${v.message}`), [
      '/spec/rules/0/to/0/headers/0/exact: "a,b": a comma separates header values; match one value',
      '/spec/rules/0/to/0/headers/1/exact: " a": spaces around a header value are not part of it',
    ]);
  });

  it('refuses hostile YAML as violations: an alias expansion bomb, duplicate keys, __proto__', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcd'[i] ?? ''}`).join(', ')}]`)].join('\n');
    const { list } = violations([
      { file: 'bomb.yaml', text: `${bomb}\n` },
      { file: 'dup.yaml', text: 'kind: Revocation\nkind: Authorization\n' },
      { file: 'proto.yaml', text: `${REVOKED}__proto__: { polluted: true }\n` },
    ]);
    assert.deepEqual(list.map((v) => `${v.file}#${v.document} ${v.path}: ${v.message}`), [
      'bomb.yaml#0 /: YAML: Excessive alias count indicates a resource exhaustion attack',
      'dup.yaml#0 /: YAML: Map keys must be unique',
      'proto.yaml#0 /__proto__: Unexpected property',
    ]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
