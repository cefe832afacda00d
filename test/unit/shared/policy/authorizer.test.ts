import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSpiffeId } from '../../../../shared/identity/index.js';
import { compileAuthorizer, parsePolicySet, type AuthorizationRequest, type Authorizer } from '../../../../shared/policy/index.js';
import { TD, svc } from './fixtures.js';

function authorizer(yaml: string): Authorizer {
  return compileAuthorizer(parsePolicySet([{ file: 'p.yaml', text: yaml }], { trustDomain: TD }));
}

function rule(name: string, action: 'allow' | 'deny', service: string, from: string[], to?: string): string {
  return `kind: Authorization\nmetadata: { name: ${name} }\nspec:\n  action: ${action}\n  service: "${service}"\n  rules:\n    - from: [${from.map((f) => `"${f}"`).join(', ')}]\n${to === undefined ? '' : `      to: ${to}\n`}---\n`;
}

const DEFAULT_ALLOW = 'kind: PolicyDefaults\nmetadata: { name: federation }\nspec: { defaultAction: allow }\n---\n';

function http(source: string, service: string, method = 'GET', path = '/', headers: AuthorizationRequest['headers'] = {}): AuthorizationRequest {
  const [site = '', name = ''] = source.split('/');
  return { source: svc(site, name), destinationService: service, protocol: 'http', method, path, headers };
}

function tcp(source: string, service: string): AuthorizationRequest {
  const [site = '', name = ''] = source.split('/');
  return { source: svc(site, name), destinationService: service, protocol: 'tcp' };
}

describe('compileAuthorizer: sources', () => {
  const az = authorizer(
    rule('exact', 'allow', 'payments', ['spiffe://acme.internal/site/eu/svc/orders']) +
      rule('any-site', 'allow', 'payments', ['spiffe://acme.internal/site/*/svc/billing']) +
      rule('site-scoped', 'allow', 'ledger', ['spiffe://acme.internal/site/us/**']),
  );

  it('allows an exact identity and denies the same service from another site (default deny)', () => {
    assert.deepEqual(az.decide(http('eu/orders', 'payments')), { allowed: true, rule: 'exact/rules/0', reason: 'allowed by Authorization exact, rule 0' });
    assert.deepEqual(az.decide(http('us/orders', 'payments')), { allowed: false, rule: 'default', reason: 'the service has allow rules and none allows this caller' });
  });

  it("matches '*' as one whole segment: the service from any site", () => {
    assert.equal(az.decide(http('us/billing', 'payments')).rule, 'any-site/rules/0');
    assert.equal(az.decide(http('eu/billing', 'payments')).rule, 'any-site/rules/0');
    assert.equal(az.decide(http('eu/billing2', 'payments')).allowed, false);
  });

  it("matches a final '**' as a prefix: every identity of a site", () => {
    assert.equal(az.decide(http('us/anything', 'ledger')).allowed, true);
    assert.equal(az.decide({ source: parseSpiffeId('spiffe://acme.internal/site/us/gateway/gw-1', TD), destinationService: 'ledger', protocol: 'tcp' }).allowed, true);
    assert.equal(az.decide(http('usa/anything', 'ledger')).allowed, false);
  });

  it('denies a service no rule names by the default deny, and a caller of another trust domain always', () => {
    assert.deepEqual(az.decide(http('eu/orders', 'inventory')), { allowed: false, rule: 'default', reason: 'no rule matches; the federation default is deny' });
    const foreign = { ...http('eu/orders', 'payments'), source: parseSpiffeId('spiffe://evil.example/site/eu/svc/orders', 'evil.example') };
    assert.deepEqual(az.decide(foreign), { allowed: false, rule: 'default', reason: 'the caller is not of trust domain acme.internal' });
  });
});

describe('compileAuthorizer: actions and defaults', () => {
  it('lets deny win over allow, whatever the order of the documents', () => {
    const yaml = rule('a-allow', 'allow', 'payments', ['spiffe://acme.internal/site/*/svc/*']) + rule('z-deny', 'deny', 'payments', ['spiffe://acme.internal/site/eu/svc/orders']);
    const az = authorizer(yaml);
    assert.deepEqual(az.decide(http('eu/orders', 'payments')), { allowed: false, rule: 'z-deny/rules/0', reason: 'denied by Authorization z-deny, rule 0' });
    assert.equal(az.decide(http('eu/billing', 'payments')).allowed, true);
  });

  it('with default allow, allows services without allow rules, but once a service has one every other caller is denied', () => {
    const az = authorizer(DEFAULT_ALLOW + rule('only-orders', 'allow', 'payments', ['spiffe://acme.internal/site/eu/svc/orders']) + rule('no-batch', 'deny', 'reports', ['spiffe://acme.internal/site/*/svc/batch']));
    assert.deepEqual(az.decide(http('eu/anyone', 'inventory')), { allowed: true, rule: 'default', reason: 'no rule matches; the federation default is allow' });
    assert.equal(az.decide(http('eu/orders', 'payments')).allowed, true);
    assert.equal(az.decide(http('eu/billing', 'payments')).allowed, false);
    assert.equal(az.decide(http('eu/batch', 'reports')).allowed, false);
    assert.equal(az.decide(http('eu/web', 'reports')).allowed, true);
  });

  it("applies service '*' rules to every service: a federation-wide deny beats a service's allow", () => {
    const az = authorizer(DEFAULT_ALLOW + rule('quarantine', 'deny', '*', ['spiffe://acme.internal/site/lab/**']) + rule('lab-to-payments', 'allow', 'payments', ['spiffe://acme.internal/site/lab/svc/orders']));
    assert.equal(az.decide(http('lab/orders', 'payments')).rule, 'quarantine/rules/0');
    assert.equal(az.decide(http('lab/x', 'inventory')).allowed, false);
    assert.equal(az.decide(http('eu/x', 'inventory')).allowed, true);
  });

  it('reads mTLS modes: strict unless the defaults say permissive for a service', () => {
    const az = authorizer('kind: PolicyDefaults\nmetadata: { name: f }\nspec: { mtls: { services: { legacy: permissive } } }\n');
    assert.equal(az.mtlsMode('legacy'), 'permissive');
    assert.equal(az.mtlsMode('payments'), 'strict');
  });
});

describe('compileAuthorizer: HTTP conditions and TCP', () => {
  const from = ['spiffe://acme.internal/site/*/svc/web'];
  const az = authorizer(
    rule('reads', 'allow', 'api', from, '[{ methods: [get, HEAD], paths: [{ prefix: /v1 }, { exact: /health }] }]') +
      rule('no-debug', 'deny', 'api', from, '[{ headers: [{ name: X-Debug, present: true }] }]') +
      rule('admin', 'allow', 'api', from, '[{ paths: [{ prefix: /admin/ }], headers: [{ name: x-role, exact: admin }] }]') +
      rule('no-rollback', 'deny', 'api', from, '[{ headers: [{ name: x-op, exact: rollback }] }]'),
  );

  it('matches methods case-insensitively and paths exactly or by segment prefix', () => {
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/v1/orders')).rule, 'reads/rules/0');
    assert.equal(az.decide(http('eu/web', 'api', 'get', '/v1')).rule, 'reads/rules/0');
    assert.equal(az.decide(http('eu/web', 'api', 'head', '/health')).allowed, true);
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/v1x')).allowed, false);
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/health/x')).allowed, false);
    assert.equal(az.decide(http('eu/web', 'api', 'POST', '/v1/orders')).allowed, false);
  });

  it('denies on a header present, whatever its case in the policy', () => {
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/v1', { 'x-debug': '' })).rule, 'no-debug/rules/0');
  });

  it('denies when any value of a header matches, repeated or comma-joined', () => {
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/v1', { 'x-op': ['read', 'rollback'] })).rule, 'no-rollback/rules/0');
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/v1', { 'x-op': 'read, rollback' })).rule, 'no-rollback/rules/0');
    assert.equal(az.decide(http('eu/web', 'api', 'GET', '/v1', { 'x-op': 'read' })).allowed, true);
  });

  it('allows on a header only when all its values match', () => {
    assert.equal(az.decide(http('eu/web', 'api', 'POST', '/admin/users', { 'x-role': 'admin' })).rule, 'admin/rules/0');
    assert.equal(az.decide(http('eu/web', 'api', 'POST', '/admin/users', { 'x-role': ['admin', 'admin'] })).allowed, true);
    assert.equal(az.decide(http('eu/web', 'api', 'POST', '/admin/users', { 'x-role': 'user, admin' })).allowed, false);
    assert.equal(az.decide(http('eu/web', 'api', 'POST', '/admin/users', { 'x-role': ['admin', 'user'] })).allowed, false);
    assert.equal(az.decide(http('eu/web', 'api', 'POST', '/admin/users')).allowed, false);
  });

  it('for TCP: a rule without HTTP conditions matches the connection; an HTTP-only allow does not, an HTTP-only deny does (fail closed)', () => {
    const tcpRules = authorizer(rule('db', 'allow', 'db', ['spiffe://acme.internal/site/eu/svc/orders']) + rule('http-only', 'allow', 'db', ['spiffe://acme.internal/site/eu/svc/web'], '[{ methods: [GET] }]'));
    assert.equal(tcpRules.decide(tcp('eu/orders', 'db')).rule, 'db/rules/0');
    assert.equal(tcpRules.decide(tcp('eu/web', 'db')).allowed, false);
    assert.equal(az.decide(tcp('eu/web', 'api')).rule, 'no-debug/rules/0');
  });
});
