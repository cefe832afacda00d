import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LiveIdentity, RenewalTimer, liveClientOptions, writeFileAtomic, type MtlsIdentity } from '../../../../shared/identity/index.js';
import { TestTrustDomain } from '../../../support/pki/index.js';

const td = new TestTrustDomain();
const first = td.identity('eu', 'agent', 'node-1');
const second = td.identity('eu', 'agent', 'node-1');
const dir = mkdtempSync(join(tmpdir(), 'meridian-live-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('LiveIdentity', () => {
  it('tells every listener the new and the previous identity; an unsubscribed one is not told', () => {
    const live = new LiveIdentity(first);
    const told: [MtlsIdentity, MtlsIdentity][] = [];
    const stop = live.onChange((next, previous) => told.push([next, previous]));
    const next = live.replace({ privateKey: second.privateKey, chain: second.chain });
    assert.equal(live.current, next);
    assert.equal(next.bundle, first.bundle, 'the bundle stays when only key and chain change');
    assert.equal(told.length, 1);
    assert.equal(told[0]?.[0], next);
    assert.equal(told[0]?.[1].chain, first.chain);
    stop();
    live.replace({ bundle: first.bundle });
    assert.equal(told.length, 1);
  });

  it('a listener that throws is reported and the others are still told', () => {
    const errors: string[] = [];
    const live = new LiveIdentity(first, { onListenerError: (error) => errors.push(error.message) });
    let told = 0;
    live.onChange(() => {
      throw new Error('swap failed');
    });
    live.onChange(() => (told += 1));
    live.replace({ chain: second.chain, privateKey: second.privateKey });
    assert.deepEqual(errors, ['swap failed']);
    assert.equal(told, 1);
  });
});

describe('liveClientOptions', () => {
  it('hands out the key, chain and roots of the identity of the moment (what nats.js copies at each reconnect)', () => {
    const live = new LiveIdentity(first);
    const tls = liveClientOptions(() => live.current);
    assert.equal(tls.cert, first.chain.map((c) => c.toString()).join(''));
    live.replace({ privateKey: second.privateKey, chain: second.chain });
    assert.equal(tls.cert, second.chain.map((c) => c.toString()).join(''));
    assert.equal(tls.key, second.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    // A copy as nats.js makes it (Object.keys + assignment) sees the current values.
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(tls)) copy[key] = (tls as unknown as Record<string, unknown>)[key];
    assert.equal(copy.cert, tls.cert);
    assert.equal(copy.minVersion, 'TLSv1.3');
    assert.equal(typeof copy.checkServerIdentity, 'function');
  });
});

/** Renewal timers are unref'd (they never keep a process up): the test holds the event loop itself. */
async function holdingLoop<T>(fn: () => Promise<T>): Promise<T> {
  const hold = setInterval(() => undefined, 1000);
  try {
    return await fn();
  } finally {
    clearInterval(hold);
  }
}

describe('RenewalTimer', () => {
  it('renews at the due time of the certificate it was given', async () => {
    const shortLived = td.identity('eu', 'svc', 'short', { ttlMs: 2000 });
    const leaf = shortLived.chain[0] ?? assert.fail('no leaf');
    let renewedAt = 0;
    await holdingLoop(
      () =>
        new Promise<void>((resolve) => {
          const timer = new RenewalTimer({
            renew: () => {
              renewedAt = Date.now();
              resolve();
              return Promise.resolve();
            },
            policy: { fraction: 0.5, jitter: 0 },
          });
          timer.schedule(leaf);
        }),
    );
    const due = Date.parse(leaf.validFrom) + (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 2;
    assert.ok(Math.abs(renewedAt - Math.max(due, 0)) < 1100, `renewed ${renewedAt - due} ms from the due time`);
  });

  it('retries a failing renewal with doubling delays, never more than a quarter of the lifetime apart, until stopped', async () => {
    const shortLived = td.identity('eu', 'svc', 'failing', { ttlMs: 2000 });
    const delays: number[] = [];
    const timer = new RenewalTimer({ renew: () => Promise.reject(new Error('signer down')), onFailed: (_error, retryMs) => delays.push(retryMs), retryMinMs: 50 });
    timer.schedule(shortLived.chain[0] ?? assert.fail('no leaf'));
    timer.now();
    await holdingLoop(async () => {
      while (delays.length < 6) await new Promise((resolve) => setTimeout(resolve, 50));
    });
    timer.stop();
    const lifetime = Date.parse(shortLived.chain[0]?.validTo ?? '') - Date.parse(shortLived.chain[0]?.validFrom ?? '');
    assert.deepEqual(delays.slice(0, 6), [50, 100, 200, 400, 800, 1600].map((d) => Math.min(d, Math.max(500, lifetime / 4))));
    const count = delays.length;
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(delays.length, count, 'no retry after stop');
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file in one step, owner-only, leaving no temp file', () => {
    const path = join(dir, 'agent.key');
    writeFileSync(path, 'old', { mode: 0o644 });
    writeFileAtomic(path, 'new');
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['agent.key']);
  });
});
