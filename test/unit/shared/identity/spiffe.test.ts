import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSpiffeId, parseSpiffeId } from '../../../../shared/identity/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';

const TD = 'acme.internal';

describe('SPIFFE ID parsing', () => {
  it('parses workload, gateway, agent and site CA identities', () => {
    assert.deepEqual(parseSpiffeId('spiffe://acme.internal/site/eu-k8s/svc/payments', TD), {
      uri: 'spiffe://acme.internal/site/eu-k8s/svc/payments',
      trustDomain: TD,
      site: 'eu-k8s',
      kind: 'svc',
      name: 'payments',
    });
    assert.equal(parseSpiffeId('spiffe://acme.internal/site/us/gateway/gw-1', TD).kind, 'gateway');
    assert.equal(parseSpiffeId('spiffe://acme.internal/site/us/agent/node-7', TD).name, 'node-7');
    assert.equal(parseSpiffeId('spiffe://acme.internal/site/us', TD).kind, 'site');
    assert.equal(formatSpiffeId(TD, 'us', 'svc', 'orders'), 'spiffe://acme.internal/site/us/svc/orders');
  });

  const rejections: [string, string, string][] = [
    ['spiffe://evil.internal/site/eu/svc/a', 'MERIDIAN_ERR_TRUST_DOMAIN_MISMATCH', 'belongs to trust domain "evil.internal", expected "acme.internal"'],
    ['spiffe://acme.internal/site/eu/svc/a\0b', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'contains a NUL character'],
    ['spiffe://acme.internal/site/eu/svc/*', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'wildcards are not allowed'],
    ['spiffe://acme.internal/site/eu/svc/../agent', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', "'.' and '..' segments are not allowed"],
    ['spiffe://acme.internal/site/eu//svc/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'empty path segment'],
    ['spiffe://acme.internal/site/eu/svc/a%2Fb', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'percent-encoding is not allowed'],
    ['spiffe://acme.internal:8443/site/eu/svc/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'a port is not allowed'],
    ['spiffe://user@acme.internal/site/eu/svc/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'userinfo is not allowed'],
    ['spiffe://acme.internal/site/eu/svc/a?x=1', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'a query is not allowed'],
    ['SPIFFE://acme.internal/site/eu/svc/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', "scheme must be 'spiffe://'"],
    ['spiffe://acme.internal', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'no path'],
    ['spiffe://acme.internal/svc/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', "path must start with '/site/<site>'"],
    ['spiffe://acme.internal/site/eu/admin/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'kind must be one of svc, gateway, agent'],
    ['spiffe://acme.internal/site/eu/svc/a/b', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', "path must be '/site/<site>/svc/<name>'"],
    ['spiffe://acme.internal/site/EU/svc/a', 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'site "EU" is not a valid name'],
  ];
  for (const [id, code, fragment] of rejections) {
    it(`rejects ${JSON.stringify(id)}`, () => {
      assert.throws(
        () => parseSpiffeId(id, TD),
        (err: unknown) => isMeridianError(err, code as never) && err.message.includes(fragment),
      );
    });
  }

  it('refuses to format identities with invalid names', () => {
    assert.throws(() => formatSpiffeId('Acme', 'eu'), /trust domain "Acme" is invalid/);
    assert.throws(() => formatSpiffeId(TD, 'eu', 'svc', 'Pay_ments'), /service "Pay_ments" is invalid/);
  });
});
