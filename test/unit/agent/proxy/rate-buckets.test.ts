import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBuckets, SHARED } from '../../../../agent/proxy/ratelimit/buckets.js';

const SPEC = { rate: 10, periodMs: 1000, ratePerMs: 0.01, capacity: 3, byCaller: false };

describe('LocalBuckets', () => {
  it('admits a burst, then one request per 1/rate, and says when the next token is due', () => {
    const buckets = new LocalBuckets();
    assert.deepEqual([0, 0, 0].map(() => buckets.take('k', SHARED, SPEC, 1000)), [0, 0, 0]);
    assert.equal(buckets.take('k', SHARED, SPEC, 1000), 100);
    assert.equal(buckets.take('k', SHARED, SPEC, 1050), 50);
    assert.equal(buckets.take('k', SHARED, SPEC, 1100), 0);
    assert.equal(buckets.take('k', SHARED, SPEC, 1100), 100);
    // A long idle refills to the burst, never past it.
    assert.deepEqual([0, 0, 0, 0].map(() => buckets.take('k', SHARED, SPEC, 60_000)), [0, 0, 0, 100]);
    // Callers counted apart have their own buckets.
    assert.equal(buckets.take('k', 'spiffe://acme.internal/site/eu/svc/web', SPEC, 60_000), 0);
  });
});
