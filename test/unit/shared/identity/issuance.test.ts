import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMeridianError, type ErrorCode } from '../../../../shared/errors/index.js';
import {
  DEFAULT_LEAF_TTL_MS,
  certificateFacts,
  createCsr,
  createRootAuthority,
  generatePrivateKey,
  issueLocalIdentity,
  issueSiteCa,
  renewalDueAt,
  verifyPeer,
} from '../../../../shared/identity/index.js';
import { OID, seq, oid } from '../../../../shared/identity/der.js';
import { TestTrustDomain } from '../../../support/pki/index.js';

const td = new TestTrustDomain();
const eu = td.site('eu');

function csrFor(uris: string[], extra?: Parameters<typeof createCsr>[0]['extraExtensions']): string {
  return createCsr({ privateKey: generatePrivateKey(), commonName: 'x', uris, ...(extra === undefined ? {} : { extraExtensions: extra }) });
}

function expectRefused(fn: () => unknown, code: ErrorCode, fragment: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isMeridianError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match(err.message, new RegExp(fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    return true;
  });
}

describe('certificate issuance', () => {
  it('issues a root, a site CA with path length 0, and a 24 h leaf with one SPIFFE URI SAN and both TLS usages', () => {
    const rootFacts = certificateFacts(td.root.certificate);
    assert.equal(rootFacts.isCa, true);
    const siteFacts = certificateFacts(eu.certificate);
    assert.deepEqual([siteFacts.isCa, siteFacts.pathLength, siteFacts.uris], [true, 0, ['spiffe://acme.internal/site/eu']]);

    const leaf = issueLocalIdentity(eu, 'svc', 'payments');
    const facts = certificateFacts(leaf.certificate);
    assert.deepEqual(facts.uris, ['spiffe://acme.internal/site/eu/svc/payments']);
    assert.equal(facts.otherSanCount, 0);
    assert.equal(facts.isCa, false);
    assert.deepEqual([...(facts.extKeyUsage ?? [])].sort(), [OID.serverAuth, OID.clientAuth].sort());
    assert.equal(leaf.certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const lifetime = new Date(leaf.certificate.validTo).getTime() - new Date(leaf.certificate.validFrom).getTime();
    // validFrom is back-dated one minute for clock skew; X.509 times have 1 s resolution.
    assert.ok(Math.abs(lifetime - DEFAULT_LEAF_TTL_MS - 60_000) <= 1000, `lifetime ${lifetime}`);
    assert.equal(leaf.certificate.checkIssued(eu.certificate), true);
    assert.equal(leaf.certificate.verify(eu.certificate.publicKey), true);
    assert.equal(verifyPeer({ leaf: leaf.certificate, intermediates: [eu.certificate] }, eu.bundle, 'client').uri, facts.uris[0]);
  });

  it('issues RSA-2048 identities on request', () => {
    const leaf = issueLocalIdentity(eu, 'agent', 'node-1', { algorithm: 'rsa-2048' });
    assert.equal(leaf.certificate.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(verifyPeer({ leaf: leaf.certificate, intermediates: [eu.certificate] }, eu.bundle, 'server').kind, 'agent');
  });

  it('schedules renewal at 50% of the lifetime plus up to 10% jitter', () => {
    const leaf = issueLocalIdentity(eu, 'svc', 'renew');
    const start = new Date(leaf.certificate.validFrom).getTime();
    const lifetime = new Date(leaf.certificate.validTo).getTime() - start;
    assert.equal(renewalDueAt(leaf.certificate, { random: () => 0 }).getTime(), start + lifetime * 0.5);
    assert.equal(renewalDueAt(leaf.certificate, { random: () => 0.999 }).getTime(), start + lifetime * (0.5 + 0.0999));
    const due = renewalDueAt(leaf.certificate).getTime();
    assert.ok(due >= start + lifetime * 0.5 && due < start + lifetime * 0.6);
  });

  describe('refuses at signing, and the authority keeps issuing afterwards', () => {
    const cases: [string, () => unknown, ErrorCode, string][] = [
      ['a foreign trust domain', () => eu.issue({ csr: csrFor(['spiffe://evil.internal/site/eu/svc/a']) }), 'MERIDIAN_ERR_TRUST_DOMAIN_MISMATCH', 'trust domain "evil.internal"'],
      ['another site\'s identity', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/us/svc/a']) }), 'MERIDIAN_ERR_SITE_SCOPE', 'site CA of eu may not issue spiffe://acme.internal/site/us/svc/a'],
      ['two URI SANs', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a', 'spiffe://acme.internal/site/eu/svc/b']) }), 'MERIDIAN_ERR_CSR_INVALID', 'exactly one URI SAN (the SPIFFE ID) and no other SAN is required (found 2 URI, 0 other)'],
      ['no URI SAN', () => eu.issue({ csr: csrFor([]) }), 'MERIDIAN_ERR_CSR_INVALID', 'found 0 URI'],
      ['a NUL in the SAN', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a\0.evil']) }), 'MERIDIAN_ERR_SPIFFE_ID_INVALID', 'contains a NUL character'],
      ['a request without the TLS client/server usages', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a'], [{ id: OID.extKeyUsage, value: seq([oid('1.3.6.1.5.5.7.3.3')]) }]) }), 'MERIDIAN_ERR_CERT_USAGE', 'csr.extensionRequest.extKeyUsage'],
      ['a request for a CA certificate', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a'], [{ id: OID.basicConstraints, value: seq([{ tagClass: 0, type: 1, constructed: false, composed: false, value: '\xff' }]) }]) }), 'MERIDIAN_ERR_CSR_INVALID', 'csr.extensionRequest.basicConstraints'],
      ['a certificate that would be born expired', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a']), ttlMs: -1 }), 'MERIDIAN_ERR_BAD_ARGUMENT', 'ttl: must be between 1 ms and 30 days (got -1 ms)'],
      ['a lifetime past the maximum', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a']), ttlMs: 31 * 86_400_000 }), 'MERIDIAN_ERR_BAD_ARGUMENT', 'ttl: must be between'],
      ['signing with an expired site CA', () => eu.issue({ csr: csrFor(['spiffe://acme.internal/site/eu/svc/a']), now: new Date(Date.now() + 400 * 86_400_000) }), 'MERIDIAN_ERR_CERT_EXPIRED', 'it cannot sign'],
      ['a CSR whose signature does not verify', () => eu.issue({ csr: tamper(csrFor(['spiffe://acme.internal/site/eu/svc/a'])) }), 'MERIDIAN_ERR_CSR_INVALID', 'csr.signature: does not verify with the public key in the request'],
      ['text that is not a CSR', () => eu.issue({ csr: 'hello' }), 'MERIDIAN_ERR_CSR_INVALID', 'csr: not a PEM CERTIFICATE REQUEST'],
    ];
    for (const [name, fn, code, fragment] of cases) {
      it(`refuses ${name}`, () => {
        expectRefused(fn, code, fragment);
        assert.equal(issueLocalIdentity(eu, 'svc', 'still-works').identity.site, 'eu');
      });
    }

    it('refuses a site CA request for another name, and a second root cannot be confused with ours', () => {
      const csr = csrFor(['spiffe://acme.internal/site/us']);
      expectRefused(() => issueSiteCa(td.root, { site: 'eu', csr }), 'MERIDIAN_ERR_CSR_INVALID', 'exactly one URI SAN spiffe://acme.internal/site/eu');
      const foreign = createRootAuthority({ trustDomain: 'evil.internal' });
      assert.equal(eu.bundle.issuerOf(foreign.certificate), undefined);
    });
  });
});

/** Flips a bit of the signature's last byte: still well-formed DER, but the proof of possession fails. */
function tamper(pem: string): string {
  const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(body, 'base64');
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${bytes.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}
