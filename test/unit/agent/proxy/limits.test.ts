import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProxyError, rawErrorResponse } from '../../../../agent/proxy/http/errors.js';
import { DEFAULT_RESET_LIMITS, ResetWindow } from '../../../../agent/proxy/listener/reset-guard.js';

const T0 = 1_000_000;

describe('rapid-reset window', () => {
  it('trips on the 101st reset of a client that resets every stream it opens', () => {
    const window = new ResetWindow(DEFAULT_RESET_LIMITS, T0, 1);
    const trips: number[] = [];
    for (let n = 0; n < 200; n++) if (window.reset(T0 + n, 2 * n + 1)) trips.push(n + 1);
    assert.equal(trips[0], 101);
  });

  it('never trips for a busy client that cancels a share (here 40 %) of its streams', () => {
    const window = new ResetWindow(DEFAULT_RESET_LIMITS, T0, 1);
    // 5 000 streams over 50 s, every fifth and every fifth + 1 cancelled before its answer.
    for (let n = 0; n < 5_000; n++) {
      if (n % 5 < 2) assert.equal(window.reset(T0 + n * 10, 2 * n + 1), false, `stream ${n}`);
    }
  });

  it('slides: resets from the previous window count as much as the window still covers, older ones not at all', () => {
    const limits = { maxResets: 10, windowMs: 1_000 };
    const window = new ResetWindow(limits, T0, 1);
    for (let n = 0; n < 10; n++) assert.equal(window.reset(T0 + n, 2 * n + 1), false);
    // Half a window on (the next window's middle), ten more: 10 + 10 × ~0.5 > 10.
    let tripped = false;
    for (let n = 10; n < 20; n++) tripped ||= window.reset(T0 + 1_500 + n, 2 * n + 1);
    assert.equal(tripped, true);
    const later = new ResetWindow(limits, T0, 1);
    for (let n = 0; n < 10; n++) later.reset(T0 + n, 2 * n + 1);
    // Two windows on, the old resets are forgotten: ten new ones stay within the limit.
    for (let n = 10; n < 20; n++) assert.equal(later.reset(T0 + 2_500 + n, 2 * n + 1), false);
    assert.equal(later.active(T0 + 2_500), true);
    assert.equal(later.active(T0 + 2_500 + 2_000), false);
  });
});

describe('raw error response', () => {
  it('is a whole HTTP/1.1 answer with the Meridian body that closes the connection, and a 405 names the methods', () => {
    const reply = rawErrorResponse(new ProxyError('MERIDIAN_ERR_METHOD_NOT_ALLOWED', 'CONNECT is not forwarded'));
    const [head = '', body] = reply.split('\r\n\r\n');
    const lines = head.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 405 Method Not Allowed');
    assert.ok(lines.includes('connection: close'));
    assert.ok(lines.includes(`content-length: ${Buffer.byteLength(body ?? '')}`));
    assert.match(lines.find((line) => line.startsWith('allow: ')) ?? '', /^allow: GET, HEAD, POST/);
    assert.deepEqual(JSON.parse(body ?? ''), { code: 'MERIDIAN_ERR_METHOD_NOT_ALLOWED', message: 'CONNECT is not forwarded' });
    const tooLarge = rawErrorResponse(new ProxyError('MERIDIAN_ERR_HEADERS_TOO_LARGE', 'over'));
    assert.match(tooLarge, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.doesNotMatch(tooLarge, /allow:/);
  });
});
