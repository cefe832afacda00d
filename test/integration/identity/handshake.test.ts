import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KeyedCertificate } from '../../../shared/identity/index.js';
import { waitUntil } from '../../support/harness.js';
import { attempt, startMtlsServer, TestTrustDomain, type MtlsTestServer } from '../../support/pki/index.js';

const td = new TestTrustDomain();
const bundle = td.bundle;
const HOUR = 3_600_000;

/** Identities every mesh endpoint must refuse, and the reason it names. */
function badIdentities(): [string, KeyedCertificate, RegExp][] {
  const now = Date.now();
  return [
    ['a certificate from a foreign CA', td.foreignIdentity('eu', 'svc', 'intruder'), /unable to get local issuer certificate|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/],
    ['a foreign trust domain signed by our site CA', td.forgeLeaf('eu', { uris: ['spiffe://evil.internal/site/eu/svc/a'] }), /belongs to trust domain "evil.internal"/],
    ['an expired certificate', td.forgeLeaf('eu', { uris: ['spiffe://acme.internal/site/eu/svc/old'], notBefore: new Date(now - 2 * HOUR), notAfter: new Date(now - HOUR) }), /certificate has expired|CERT_HAS_EXPIRED/],
    ["a site CA signing another site's identity", td.forgeLeaf('eu', { uris: ['spiffe://acme.internal/site/us/svc/a'] }), /site CA of eu may not issue spiffe:\/\/acme.internal\/site\/us\/svc\/a/],
    ['two URI SANs', td.forgeLeaf('eu', { uris: ['spiffe://acme.internal/site/eu/svc/a', 'spiffe://acme.internal/site/eu/svc/b'] }), /exactly one URI SAN and no other SAN \(found 2 URI, 0 other\)/],
    ['a NUL in the SAN', td.forgeLeaf('eu', { uris: ['spiffe://acme.internal/site/eu/svc/a\0.evil'] }), /contains a NUL character/],
    ['no TLS client/server usage', td.forgeLeaf('eu', { uris: ['spiffe://acme.internal/site/eu/svc/a'], usages: ['1.3.6.1.5.5.7.3.3'] }), /unsupported certificate purpose|unsuitable certificate purpose|INVALID_PURPOSE/],
    ['no extended key usage at all', td.forgeLeaf('eu', { uris: ['spiffe://acme.internal/site/eu/svc/a'], usages: 'none' }), /lacks the TLS (client|server) usage/],
  ];
}

describe('mTLS handshakes between issued identities', () => {
  const payments = td.identity('eu', 'svc', 'payments');
  const gateway = td.identity('us', 'gateway', 'gw-1');
  let server: MtlsTestServer;
  before(async () => {
    server = await startMtlsServer(payments, bundle);
  });
  after(() => server.close());

  it('succeeds across sites, TLS 1.3 only, and each side reads the other SPIFFE ID', async () => {
    const result = await attempt(gateway, bundle, server.port);
    assert.equal(result.error, undefined);
    assert.equal(result.serverId, 'spiffe://acme.internal/site/eu/svc/payments');
    assert.equal(result.body, 'spiffe://acme.internal/site/us/gateway/gw-1');
    assert.deepEqual(server.accepted, ['spiffe://acme.internal/site/us/gateway/gw-1']);
  });

  for (const [name, identity, reason] of badIdentities()) {
    it(`the server rejects a client with ${name}`, async () => {
      const acceptedBefore = server.accepted.length;
      const rejectedBefore = server.rejected.length;
      const result = await attempt(identity, bundle, server.port);
      assert.equal(result.body, '', 'the rejected client must not receive application data');
      assert.equal(server.accepted.length, acceptedBefore);
      await waitUntil(() => server.rejected.length > rejectedBefore, 'the server to record the rejection', 2000);
      assert.match(server.rejected.slice(rejectedBefore).join(' | '), reason);
      // The server keeps serving good clients.
      assert.equal((await attempt(gateway, bundle, server.port)).body, 'spiffe://acme.internal/site/us/gateway/gw-1');
    });

    it(`the client rejects a server with ${name}`, async () => {
      const impostor = await startMtlsServer(identity, bundle);
      try {
        const result = await attempt(gateway, bundle, impostor.port);
        assert.ok(result.error, 'the client must fail the handshake');
        assert.match(result.error.message, reason);
        assert.equal(result.serverId, undefined);
        assert.deepEqual(impostor.accepted, []);
      } finally {
        await impostor.close();
      }
    });
  }

  it('accepts identities under either root during a root rotation, and only the new one after', async () => {
    const next = new TestTrustDomain();
    const rotating = bundle.withRoot(next.root.certificate);
    const underNewRoot = next.identity('us', 'svc', 'orders');
    const rotatingServer = await startMtlsServer(payments, rotating);
    const newOnlyServer = await startMtlsServer(next.identity('us', 'svc', 'edge'), next.bundle);
    try {
      assert.equal((await attempt(underNewRoot, rotating, rotatingServer.port)).body, 'spiffe://acme.internal/site/us/svc/orders');
      assert.equal((await attempt(gateway, rotating, rotatingServer.port)).body, 'spiffe://acme.internal/site/us/gateway/gw-1');
      assert.equal((await attempt(underNewRoot, rotating, newOnlyServer.port)).body, 'spiffe://acme.internal/site/us/svc/orders');
      const old = await attempt(gateway, rotating, newOnlyServer.port);
      assert.equal(old.body, '');
    } finally {
      await rotatingServer.close();
      await newOnlyServer.close();
    }
  });
});
