import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { bodyJson, h2, h2c, type Reply } from '../../support/clients.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import { errorBody, rawHttp1, type RawReply } from '../../support/raw-http.js';

/** `count` distinct header lines. */
function headerLines(count: number): string {
  let lines = '';
  for (let i = 0; i < count; i++) lines += `X-Field-${i}: v\r\n`;
  return lines;
}

function fields(count: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < count; i++) out[`x-field-${i}`] = 'v';
  return out;
}

function assertRefused(reply: RawReply | Reply, status: number, code: string): void {
  assert.equal(reply.status, status, `status ${reply.status}, body ${String(reply.body)}`);
  assert.equal(reply.headers['content-type'], 'application/json');
  assert.equal(errorBody(reply).code, code);
}

/** One request that may be reset: its status, or the reset's code. */
function h2Outcome(session: ClientHttp2Session, headers: OutgoingHttpHeaders): Promise<{ status?: number; rstCode?: number; body: string }> {
  return new Promise((resolve) => {
    const stream = session.request({ ':method': 'GET', ':path': '/', ...headers });
    let status: number | undefined;
    let body = '';
    stream.on('response', (head) => (status = Number(head[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve(status === undefined ? { rstCode: stream.rstCode, body } : { status, body }));
    stream.end();
  });
}

describe('outbound listener: HTTP parsing edge cases', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  let payments: TestApp;
  let ledger: TestApp;
  let node: InboundProxy;
  let web: OutboundProxy;
  let port = 0;
  const hits = (): number => payments.hits + ledger.hits;

  before(async () => {
    payments = await startHttpApp('payments', 'http');
    ledger = await startHttpApp('ledger', 'http');
    node = await startNode(pki, 'eu', {
      payments: { address: '127.0.0.1', port: payments.port, protocol: 'http' },
      ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http' },
    });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    catalog.add({ service: 'ledger', instanceId: 'ledger-1', site: 'eu', meshPort: node.port });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { timeouts: { headersMs: 300 } });
    port = web.httpPort ?? 0;
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await payments.kill();
    await ledger.kill();
  });

  it('HTTP/1.1: two Host headers are refused (400 MERIDIAN_ERR_BAD_AUTHORITY), in either order, and nothing is forwarded', async () => {
    const before = hits();
    for (const [first, second] of [['payments.mesh', 'ledger.mesh'], ['ledger.mesh', 'payments.mesh'], ['payments.mesh', 'payments.mesh']]) {
      const reply = await rawHttp1(port, `GET / HTTP/1.1\r\nHost: ${first}\r\nHost: ${second}\r\n\r\n`);
      assertRefused(reply, 400, 'MERIDIAN_ERR_BAD_AUTHORITY');
      assert.match(errorBody(reply).message, /exactly one Host header/);
    }
    assert.equal(hits(), before);
  });

  it('HTTP/1.1 absolute-form: routed by the target authority and forwarded in origin-form; a Host naming another service is refused', async () => {
    const routed = await rawHttp1(port, 'GET http://payments.mesh/x?y=1 HTTP/1.1\r\nHost: payments.mesh\r\n\r\n');
    assert.equal(routed.status, 200);
    const seen = JSON.parse(routed.body) as Seen;
    assert.equal(seen.app, 'payments');
    assert.equal(seen.url, '/x?y=1');
    assert.equal(seen.headers.host, 'payments.mesh');
    const before = hits();
    const mismatch = await rawHttp1(port, 'GET http://payments.mesh/x HTTP/1.1\r\nHost: ledger.mesh\r\n\r\n');
    assertRefused(mismatch, 400, 'MERIDIAN_ERR_BAD_AUTHORITY');
    assert.match(errorBody(mismatch).message, /Host "ledger\.mesh".*"payments\.mesh"/);
    const https = await rawHttp1(port, 'GET https://payments.mesh/x HTTP/1.1\r\nHost: payments.mesh\r\n\r\n');
    assertRefused(https, 400, 'MERIDIAN_ERR_BAD_REQUEST');
    assert.equal(hits(), before);
  });

  it('HTTP/1.1: more than 100 header fields is 431 MERIDIAN_ERR_HEADERS_TOO_LARGE wherever Host is (never truncated); 100 pass', async () => {
    const before = hits();
    for (const count of [101, 1000, 3000]) {
      for (const request of [`GET / HTTP/1.1\r\nHost: payments.mesh\r\n${headerLines(count)}\r\n`, `GET / HTTP/1.1\r\n${headerLines(count)}Host: payments.mesh\r\n\r\n`]) {
        const reply = await rawHttp1(port, request);
        assertRefused(reply, 431, 'MERIDIAN_ERR_HEADERS_TOO_LARGE');
      }
    }
    assert.equal(hits(), before);
    const fits = await rawHttp1(port, `GET / HTTP/1.1\r\nHost: payments.mesh\r\n${headerLines(99)}\r\n`);
    assert.equal(fits.status, 200);
    assert.equal(Object.keys((JSON.parse(fits.body) as Seen).headers).filter((name) => name.startsWith('x-field-')).length, 99);
  });

  it('HTTP/1.1: header bytes past 16 KiB are 431 with the Meridian body, however large', async () => {
    const before = hits();
    for (const size of [17 * 1024, 100 * 1024]) {
      const reply = await rawHttp1(port, `GET / HTTP/1.1\r\nHost: payments.mesh\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`);
      assertRefused(reply, 431, 'MERIDIAN_ERR_HEADERS_TOO_LARGE');
      assert.ok(reply.closed, 'the connection is closed after an overflowing head');
    }
    assert.equal(hits(), before);
    const fits = await rawHttp1(port, `GET / HTTP/1.1\r\nHost: payments.mesh\r\nX-Big: ${'a'.repeat(15 * 1024)}\r\n\r\n`);
    assert.equal(fits.status, 200);
  });

  it('HTTP/2: the same budget: 101 or 1 000 fields, a 17 KB or a 100 KB header are 431 with the Meridian body, and the session goes on', async () => {
    // Node's client refuses by itself to send a header block past 64 KiB.
    const session = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1 << 20 });
    session.on('error', () => undefined);
    try {
      const before = hits();
      for (const headers of [fields(101), fields(1000), { 'x-big': 'a'.repeat(17 * 1024) }, { 'x-big': 'a'.repeat(100 * 1024) }]) {
        const reply = await h2(session, { ':authority': 'payments.mesh', ...headers });
        assertRefused(reply, 431, 'MERIDIAN_ERR_HEADERS_TOO_LARGE');
      }
      assert.equal(hits(), before);
      const fits = await h2(session, { ':authority': 'payments.mesh', ...fields(100) });
      assert.equal(fits.status, 200);
      assert.equal(Object.keys(bodyJson<Seen>(fits).headers).filter((name) => name.startsWith('x-field-')).length, 100);
    } finally {
      session.close();
    }
  });

  it('HTTP/2: past the advertised 128 KiB header list the stream is reset (ENHANCE_YOUR_CALM), not the session', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1 << 20 });
    session.on('error', () => undefined);
    try {
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      assert.equal(session.remoteSettings.maxHeaderListSize, 128 * 1024);
      const huge: OutgoingHttpHeaders = {};
      for (let i = 0; i < 150; i++) huge[`x-field-${i}`] = 'a'.repeat(1000);
      const reset = await h2Outcome(session, { ':authority': 'payments.mesh', ...huge });
      assert.equal(reset.rstCode, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.equal((await h2Outcome(session, { ':authority': 'payments.mesh' })).status, 200);
    } finally {
      session.close();
    }
  });

  it('HTTP/2: an :authority and a Host naming different services are refused (400 MERIDIAN_ERR_BAD_AUTHORITY)', async () => {
    const session = await h2c(port);
    try {
      const before = hits();
      const reply = await h2(session, { ':authority': 'payments.mesh', host: 'ledger.mesh' });
      assertRefused(reply, 400, 'MERIDIAN_ERR_BAD_AUTHORITY');
      assert.equal(hits(), before);
      assert.equal((await h2(session, { ':authority': 'payments.mesh', host: 'payments.mesh' })).status, 200);
    } finally {
      session.close();
    }
  });

  it('CONNECT is answered 405 MERIDIAN_ERR_METHOD_NOT_ALLOWED with Allow, on HTTP/1.1 and HTTP/2', async () => {
    const reply = await rawHttp1(port, 'CONNECT payments.mesh:443 HTTP/1.1\r\nHost: payments.mesh:443\r\n\r\n');
    assertRefused(reply, 405, 'MERIDIAN_ERR_METHOD_NOT_ALLOWED');
    assert.doesNotMatch(reply.headers.allow ?? 'CONNECT', /CONNECT/);
    assert.ok(reply.closed);
    const session = await h2c(port);
    try {
      const h2reply = await h2(session, { ':method': 'CONNECT', ':authority': 'payments.mesh:443', ':path': undefined, ':scheme': undefined });
      assertRefused(h2reply, 405, 'MERIDIAN_ERR_METHOD_NOT_ALLOWED');
    } finally {
      session.close();
    }
  });

  it('Upgrade (WebSocket) is answered 501 MERIDIAN_ERR_UPGRADE_UNSUPPORTED on a closed connection; Upgrade: h2c is ignored, as RFC 9110 allows', async () => {
    const before = hits();
    const websocket =
      'GET /ws HTTP/1.1\r\nHost: payments.mesh\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const reply = await rawHttp1(port, websocket);
    assertRefused(reply, 501, 'MERIDIAN_ERR_UPGRADE_UNSUPPORTED');
    assert.ok(reply.closed);
    assert.equal(hits(), before);
    const h2cUpgrade = await rawHttp1(port, 'GET / HTTP/1.1\r\nHost: payments.mesh\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n');
    assert.equal(h2cUpgrade.status, 200);
    assert.equal((JSON.parse(h2cUpgrade.body) as Seen).headers.upgrade, undefined);
  });

  it('malformed or stalled HTTP/1.1 is refused with the Meridian body: 400 MERIDIAN_ERR_BAD_REQUEST, 408 MERIDIAN_ERR_REQUEST_TIMEOUT', async () => {
    const before = hits();
    const smuggle = await rawHttp1(port, 'POST / HTTP/1.1\r\nHost: payments.mesh\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assertRefused(smuggle, 400, 'MERIDIAN_ERR_BAD_REQUEST');
    const noHost = await rawHttp1(port, 'GET / HTTP/1.1\r\n\r\n');
    assertRefused(noHost, 400, 'MERIDIAN_ERR_BAD_AUTHORITY');
    const stalled = await rawHttp1(port, 'GET / HTTP/1.1\r\nHost: payments.mesh\r\nX-Slow: ');
    assertRefused(stalled, 408, 'MERIDIAN_ERR_REQUEST_TIMEOUT');
    assert.equal(hits(), before);
  });
});
