import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { startHealthCheck, type HealthCheck } from '../../../../agent/health/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';
import { recordChanges } from '../../../support/health.js';
import { waitUntil } from '../../../support/harness.js';
import { closeServer, listenLoopback } from '../../../support/net.js';

/** Asserts `fn` throws a MeridianError with exactly this code and message. */
function assertMeridianError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isMeridianError(err), `a MeridianError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

const noop = (): void => undefined;

describe('check options', () => {
  it('resolves a named port, a number and a quoted number to the same server', async () => {
    const server = createServer((_req, res) => res.end());
    const port = await listenLoopback(server);
    try {
      for (const ref of ['admin', port, String(port)]) {
        const { changes, onChange } = recordChanges();
        const handle = startHealthCheck({
          check: { type: 'http', port: ref, path: '/', interval: '1h' },
          address: '127.0.0.1',
          ports: { http: 1, admin: port },
          onChange,
        });
        await waitUntil(() => changes.length === 1, `the check on port ${JSON.stringify(ref)}`);
        handle.stop();
        assert.equal(changes[0]?.state, 'passing', `port ${JSON.stringify(ref)}: ${changes[0]?.reason}`);
      }
    } finally {
      server.closeAllConnections();
      await closeServer(server);
    }
  });

  it('rejects an unknown port name, naming check.port', () => {
    assertMeridianError(
      () => startHealthCheck({ check: { type: 'grpc', port: 'metrics', service: '' }, address: '127.0.0.1', ports: { http: 8080, admin: 9090 }, onChange: noop }),
      'MERIDIAN_ERR_CONFIG_INVALID',
      'check.port: "metrics" is not a named port of the instance (known: admin, http)',
    );
  });

  it('rejects a port out of range, a zero interval, a malformed timeout, a zero threshold, a bad path and a zero ttl', () => {
    const tcp = (extra: Partial<Extract<HealthCheck, { type: 'tcp' }>>) => () =>
      startHealthCheck({ check: { type: 'tcp', port: 80, ...extra }, address: '127.0.0.1', ports: {}, onChange: noop });
    assertMeridianError(tcp({ port: 70000 }), 'MERIDIAN_ERR_CONFIG_INVALID', 'check.port: 70000 is not a port number between 1 and 65535');
    assertMeridianError(tcp({ interval: '0s' }), 'MERIDIAN_ERR_CONFIG_INVALID', 'check.interval: "0s" must be at least 1ms');
    assertMeridianError(
      tcp({ timeout: 'soon' }),
      'MERIDIAN_ERR_CONFIG_INVALID',
      'check.timeout: "soon" is not a duration (use e.g. 30s, 15m, 24h, 7d)',
    );
    assertMeridianError(tcp({ unhealthyThreshold: 0 }), 'MERIDIAN_ERR_CONFIG_INVALID', 'check.unhealthyThreshold: 0 must be an integer of at least 1');
    assertMeridianError(
      () => startHealthCheck({ check: { type: 'http', port: 80, path: '/health check' }, address: '127.0.0.1', ports: {}, onChange: noop }),
      'MERIDIAN_ERR_CONFIG_INVALID',
      'check.path: "/health check" must start with / and contain no spaces or control characters',
    );
    assertMeridianError(
      () => startHealthCheck({ check: { type: 'ttl', ttl: '0ms' }, address: '', ports: {}, onChange: noop }),
      'MERIDIAN_ERR_CONFIG_INVALID',
      'check.ttl: "0ms" must be at least 1ms',
    );
  });

  it('calls onChange only on flips and keeps probing when a listener throws', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.end();
    });
    const port = await listenLoopback(server);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    let calls = 0;
    const handle = startHealthCheck({
      check: { type: 'http', port, path: '/', interval: '30ms' },
      address: '127.0.0.1',
      ports: {},
      onChange: () => {
        calls += 1;
        throw new Error('listener bug');
      },
    });
    try {
      await waitUntil(() => hits >= 4 && warnings.length === 1, 'several probes and the warning');
      assert.equal(calls, 1, 'one flip, however many passing results');
      assert.equal(handle.state, 'passing');
      assert.match(warnings[0]?.message ?? '', /listener bug/);
    } finally {
      handle.stop();
      process.off('warning', onWarning);
      server.closeAllConnections();
      await closeServer(server);
    }
  });

  it('runNow() joins the probe in flight instead of starting another', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      setTimeout(() => res.end(), 100);
    });
    const port = await listenLoopback(server);
    const handle = startHealthCheck({ check: { type: 'http', port, path: '/', interval: '1h' }, address: '127.0.0.1', ports: {}, onChange: noop });
    try {
      await Promise.all([handle.runNow(), handle.runNow(), handle.runNow()]);
      assert.equal(hits, 1);
      assert.equal(handle.lastResult?.ok, true);
      await handle.runNow();
      assert.equal(hits, 2);
    } finally {
      handle.stop();
      server.closeAllConnections();
      await closeServer(server);
    }
  });
});
