import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  forwardableRawRequestHeaders,
  forwardableRawResponseHeaders,
  forwardableRequestHeaders,
  forwardableResponseHeaders,
  parseMeshAuthority,
} from '../../../../agent/proxy/http/headers.js';
import { nextTraceparent } from '../../../../agent/proxy/index.js';

describe('mesh authority', () => {
  it('names a service with or without a port, and nothing else', () => {
    assert.equal(parseMeshAuthority('payments.mesh'), 'payments');
    assert.equal(parseMeshAuthority('Payments.MESH:8080'), 'payments');
    for (const bad of [undefined, '', 'payments', 'payments.mesh.evil.com', 'a.b.mesh', 'user@payments.mesh', '-x.mesh', 'payments.mesh:', 'payments.mesh:123456']) {
      assert.equal(parseMeshAuthority(bad), undefined, String(bad));
    }
  });
});

describe('forwarded headers', () => {
  it('drops hop-by-hop headers, those named by Connection, pseudo-headers and identity headers', () => {
    const out = forwardableRequestHeaders({
      ':path': '/',
      host: 'payments.mesh',
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      te: 'trailers, deflate',
      'x-meridian-caller': 'spoofed',
      'x-meridian-caller-service': 'spoofed',
      'x-forwarded-client-cert': 'spoofed',
      'content-type': 'application/grpc',
      cookie: 'a=1',
    });
    assert.deepEqual(out, { te: 'trailers', 'content-type': 'application/grpc', cookie: 'a=1' });
    assert.deepEqual(forwardableResponseHeaders({ ':status': '200', connection: 'close', 'set-cookie': ['a=1', 'b=2'] }), { 'set-cookie': ['a=1', 'b=2'] });
  });

  it('filters raw HTTP/1.1 header lines the same way, whatever their case, keeping order and repeats', () => {
    const raw = [
      'Host', 'payments.mesh',
      'Connection', 'keep-alive, X-Secret-Hop',
      'X-Secret-Hop', '1',
      'X-Meridian-Caller', 'spoofed',
      'X-MERIDIAN-CALLER-SITE', 'spoofed',
      'Traceparent', `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      'TE', 'trailers',
      'Cookie', 'a=1',
      'Cookie', 'b=2',
    ];
    assert.deepEqual(forwardableRawRequestHeaders(raw, 'keep-alive, X-Secret-Hop'), ['te', 'trailers', 'Cookie', 'a=1', 'Cookie', 'b=2']);
    const response = ['Content-Length', '2', 'Connection', 'x-hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=5', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'];
    assert.deepEqual(forwardableRawResponseHeaders(response), ['Content-Length', '2', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });
});

describe('traceparent', () => {
  const format = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

  it('continues a valid trace with a new span id and the same flags', () => {
    const incoming = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`;
    const next = nextTraceparent(incoming);
    assert.match(next, format);
    assert.equal(next.slice(0, 36), incoming.slice(0, 36));
    assert.notEqual(next.slice(36, 52), '2'.repeat(16));
    assert.equal(next.slice(-2), '00');
  });

  it('starts a new sampled trace for a missing or invalid one', () => {
    for (const bad of [undefined, 'nonsense', `ff-${'1'.repeat(32)}-${'2'.repeat(16)}-01`, `00-${'0'.repeat(32)}-${'2'.repeat(16)}-01`, `00-${'1'.repeat(32)}-${'0'.repeat(16)}-01`]) {
      const next = nextTraceparent(bad);
      assert.match(next, format);
      assert.equal(next.slice(-2), '01');
      assert.notEqual(next.slice(3, 35), '1'.repeat(32), String(bad));
    }
  });
});
