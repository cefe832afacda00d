import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureLimiter } from '../../../../services/site/join/index.js';

describe('failed-join limits', () => {
  it('an address is blocked after its budget until its window ends; others are not', () => {
    const limiter = new FailureLimiter({ perAddress: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i += 1) {
      assert.equal(limiter.retryAfterSeconds('10.0.0.1', 1_000), 0);
      limiter.fail('10.0.0.1', 1_000);
    }
    assert.equal(limiter.retryAfterSeconds('10.0.0.1', 1_000), 60);
    assert.equal(limiter.retryAfterSeconds('10.0.0.1', 31_000), 30);
    assert.equal(limiter.retryAfterSeconds('10.0.0.2', 1_000), 0);
    assert.equal(limiter.retryAfterSeconds('10.0.0.1', 61_000), 0);
  });

  it('a global cap blocks every address once failures from many addresses add up', () => {
    const limiter = new FailureLimiter({ perAddress: 5, global: 10, windowMs: 60_000 });
    for (let i = 0; i < 10; i += 1) limiter.fail(`10.0.1.${i}`, 0);
    assert.equal(limiter.retryAfterSeconds('10.0.2.1', 0), 60);
    assert.equal(limiter.retryAfterSeconds('10.0.2.1', 60_000), 0);
  });

  it('memory stays bounded: past maxAddresses the oldest windows are forgotten', () => {
    const limiter = new FailureLimiter({ perAddress: 2, global: 1_000_000, windowMs: 60_000, maxAddresses: 100 });
    for (let i = 0; i < 10_000; i += 1) limiter.fail(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, i);
    assert.ok(limiter.trackedAddresses <= 100, String(limiter.trackedAddresses));
    // The newest addresses are still counted.
    limiter.fail('10.0.39.15', 10_000);
    assert.equal(limiter.retryAfterSeconds('10.0.39.15', 10_000), 60);
  });
});
