import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHealthCheck } from '../../../../agent/health/index.js';
import { MeridianError } from '../../../../shared/errors/index.js';
import { recordChanges } from '../../../support/health.js';
import { waitUntil } from '../../../support/harness.js';

describe('ttl check', () => {
  it('stays passing while passed within the ttl, turns critical when a window is missed, and recovers on the next pass', async () => {
    const { changes, onChange } = recordChanges();
    const handle = startHealthCheck({ check: { type: 'ttl', ttl: '150ms' }, address: '127.0.0.1', ports: {}, onChange });
    try {
      assert.equal(handle.state, 'unknown');
      handle.passTtl();
      assert.equal(handle.state, 'passing');
      for (let i = 0; i < 8; i += 1) {
        await sleep(50);
        handle.passTtl();
      }
      assert.deepEqual(changes, [{ state: 'passing', reason: 'TTL pass received', consecutive: 1, snapshot: 0 }]);

      const lastPass = Date.now();
      await waitUntil(() => changes.length === 2, 'critical');
      const waited = Date.now() - lastPass;
      assert.ok(waited >= 140 && waited < 600, `critical ${waited} ms after the last pass`);
      assert.deepEqual(changes[1], { state: 'critical', reason: 'TTL of 150 ms expired without a pass', consecutive: 1, snapshot: 0 });

      handle.passTtl();
      assert.equal(handle.state, 'passing');
      assert.equal(changes.length, 3);
      assert.equal(changes[2]?.state, 'passing');
    } finally {
      handle.stop();
    }
  });

  it('turns critical at once on failTtl() with its reason, stays critical past the window, and recovers on the next pass', async () => {
    const { changes, onChange } = recordChanges();
    const handle = startHealthCheck({ check: { type: 'ttl', ttl: '100ms' }, address: '127.0.0.1', ports: {}, onChange });
    try {
      handle.passTtl();
      handle.failTtl('critical in Consul');
      assert.equal(handle.state, 'critical');
      assert.deepEqual(changes[1], { state: 'critical', reason: 'critical in Consul', consecutive: 1, snapshot: 0 });
      await sleep(250);
      assert.equal(changes.length, 2, 'the expired window adds no second failure');
      handle.passTtl();
      assert.equal(handle.state, 'passing');
    } finally {
      handle.stop();
    }
    const tcp = startHealthCheck({ check: { type: 'tcp', port: 1 }, address: '127.0.0.1', ports: {}, onChange: () => undefined });
    try {
      assert.throws(() => tcp.failTtl('x'), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: 'failTtl: the check is of type tcp; only a check of type ttl can be failed' });
    } finally {
      tcp.stop();
    }
  });

  it('turns critical one ttl after start when never passed', async () => {
    const { changes, onChange } = recordChanges();
    const handle = startHealthCheck({ check: { type: 'ttl', ttl: '100ms' }, address: '127.0.0.1', ports: {}, onChange });
    await waitUntil(() => changes.length === 1, 'critical');
    handle.stop();
    assert.equal(changes[0]?.state, 'critical');
    assert.equal(handle.lastResult?.ok, false);
  });

  it('judges the window by the injected clock on runNow()', async () => {
    let clock = 1_000_000;
    const { changes, onChange } = recordChanges();
    const handle = startHealthCheck({ check: { type: 'ttl', ttl: '30s' }, address: '127.0.0.1', ports: {}, onChange, now: () => clock });
    handle.passTtl();
    assert.equal(handle.lastResult?.at, 1_000_000);
    clock += 29_999;
    await handle.runNow();
    assert.equal(handle.state, 'passing');
    clock += 1;
    await handle.runNow();
    handle.stop();
    assert.equal(handle.state, 'critical');
    assert.deepEqual(handle.lastResult, { ok: false, reason: 'TTL of 30000 ms expired without a pass', at: 1_030_000, durationMs: 0 });
    assert.deepEqual(
      changes.map((c) => c.state),
      ['passing', 'critical'],
    );
  });

  it('passTtl() on a check that is not ttl throws MERIDIAN_ERR_BAD_ARGUMENT', () => {
    const handle = startHealthCheck({ check: { type: 'tcp', port: 1, interval: '1h' }, address: '127.0.0.1', ports: {}, onChange: () => undefined });
    try {
      assert.throws(() => handle.passTtl(), (err: unknown) => {
        assert.ok(err instanceof MeridianError);
        assert.equal(err.code, 'MERIDIAN_ERR_BAD_ARGUMENT');
        assert.equal(err.message, 'passTtl: the check is of type tcp; only a check of type ttl can be passed');
        return true;
      });
    } finally {
      handle.stop();
    }
  });
});
