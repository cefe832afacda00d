import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { bodyJson, h1, h2, h2c } from '../../support/clients.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { spiffe, TestTrustDomain } from '../../support/pki/index.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe('HTTP through outbound → inbound → app', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  let payments: TestApp;
  let ledger: TestApp;
  let node: InboundProxy;
  let web: OutboundProxy;
  let port = 0;

  before(async () => {
    payments = await startHttpApp('payments', 'http');
    ledger = await startHttpApp('ledger', 'http2');
    node = await startNode(pki, 'eu', {
      payments: { address: '127.0.0.1', port: payments.port, protocol: 'http' },
      ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http2' },
    });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    catalog.add({ service: 'ledger', instanceId: 'ledger-1', site: 'eu', meshPort: node.port, protocol: 'http2' });
    catalog.add({ service: 'audit', instanceId: 'audit-1', site: 'eu', meshPort: node.port, health: 'critical' });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    port = web.httpPort ?? 0;
  });
  after(async () => {
    await web.close(1000);
    await node.close(1000);
    await payments.kill();
    await ledger.kill();
  });

  it('HTTP/1.1: the app sees the verified caller, never an identity header the client sent', async () => {
    const reply = await h1(port, {
      host: 'payments.mesh',
      path: '/hello?x=1',
      headers: { 'x-meridian-caller': 'spoofed', 'x-forwarded-client-cert': 'By=spiffe://evil', 'x-meridian-caller-site': 'evil', 'x-custom': 'kept' },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-app'], 'payments');
    const seen = bodyJson<Seen>(reply);
    assert.equal(seen.headers['x-meridian-caller'], spiffe('eu', 'web'));
    assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
    assert.equal(seen.headers['x-meridian-caller-site'], undefined);
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers.host, 'payments.mesh');
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.httpVersion, '1.1');
    assert.match(String(seen.headers.traceparent), TRACEPARENT);
  });

  it('traceparent: keeps the trace id with a new span per hop, or starts a trace', async () => {
    const incoming = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const seen = bodyJson<Seen>(await h1(port, { host: 'payments.mesh', headers: { traceparent: incoming } }));
    const [, trace, span] = TRACEPARENT.exec(String(seen.headers.traceparent)) ?? [];
    assert.equal(trace, 'a'.repeat(32));
    assert.notEqual(span, 'b'.repeat(16));
    const fresh = bodyJson<Seen>(await h1(port, { host: 'payments.mesh', headers: { traceparent: 'garbage' } }));
    assert.notEqual(TRACEPARENT.exec(String(fresh.headers.traceparent))?.[1], 'a'.repeat(32));
  });

  it('streams 5 MB bodies up and down intact', async () => {
    const body = randomBytes(5 * 1024 * 1024);
    const echoed = await h1(port, { host: 'payments.mesh', method: 'POST', path: '/echo', body });
    assert.equal(echoed.status, 200);
    assert.equal(echoed.body.length, body.length);
    assert.equal(createHash('sha256').update(echoed.body).digest('hex'), createHash('sha256').update(body).digest('hex'));
    const big = await h1(port, { host: 'payments.mesh', path: `/big?bytes=${5 * 1024 * 1024}` });
    assert.equal(big.body.length, 5 * 1024 * 1024);
  });

  it('h2c prior knowledge on the same port, to an HTTP/2 app and to an HTTP/1.1 app', async () => {
    const session: ClientHttp2Session = await h2c(port);
    try {
      const toH2 = await h2(session, { ':method': 'POST', ':authority': 'ledger.mesh', ':path': '/x', 'x-meridian-caller': 'spoofed' }, Buffer.from('abc'));
      assert.equal(toH2.status, 200);
      const seen = bodyJson<Seen>(toH2);
      assert.equal(seen.httpVersion, '2.0');
      assert.equal(seen.bodyBytes, 3);
      assert.equal(seen.headers['x-meridian-caller'], spiffe('eu', 'web'));
      const toH1 = bodyJson<Seen>(await h2(session, { ':authority': 'payments.mesh:8080', ':path': '/y' }));
      assert.equal(toH1.httpVersion, '1.1');
      assert.equal(toH1.headers.host, 'payments.mesh:8080');
    } finally {
      session.close();
    }
    const h1ToH2 = bodyJson<Seen>(await h1(port, { host: 'ledger.mesh', path: '/z' }));
    assert.equal(h1ToH2.httpVersion, '2.0');
  });

  it("passes the app's own error statuses through untouched", async () => {
    const reply = await h1(port, { host: 'payments.mesh', path: '/status?code=503' });
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['x-app'], 'payments');
  });

  it('answers routing failures with a JSON error naming the service', async () => {
    const unknown = await h1(port, { host: 'nothere.mesh' });
    assert.equal(unknown.status, 502);
    assert.deepEqual(bodyJson(unknown), { code: 'MERIDIAN_ERR_SERVICE_UNKNOWN', message: 'no instance of service "nothere" in the catalog' });
    const unhealthy = await h1(port, { host: 'audit.mesh' });
    assert.equal(unhealthy.status, 503);
    const error = bodyJson<{ code: string; message: string }>(unhealthy);
    assert.equal(error.code, 'MERIDIAN_ERR_NO_HEALTHY_UPSTREAM');
    assert.match(error.message, /"audit".*no usable instance in site eu \(1 critical\)/);
    const foreign = await h1(port, { host: 'example.com' });
    assert.equal(foreign.status, 400);
    assert.equal(bodyJson(foreign).code, 'MERIDIAN_ERR_BAD_AUTHORITY');
  });
});
