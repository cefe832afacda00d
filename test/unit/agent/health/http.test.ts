import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHealthCheck, type HealthCheck, type HealthCheckHandle } from '../../../../agent/health/index.js';
import { recordChanges } from '../../../support/health.js';
import { waitUntil } from '../../../support/harness.js';
import { closeServer, listenLoopback, refusedPort } from '../../../support/net.js';

type HttpCheck = Extract<HealthCheck, { type: 'http' }>;
type Mode = 'ok' | 'unavailable' | 'redirect' | 'hang';

/** A real HTTP server whose /healthz answer the test switches, counting what it served. */
function healthServer() {
  const state = { mode: 'ok' as Mode, served: { ok: 0, unavailable: 0, redirect: 0, hang: 0 }, open: 0, maxOpen: 0, paths: [] as string[] };
  const hung: ServerResponse[] = [];
  const server = createServer((req, res) => {
    state.paths.push(req.url ?? '');
    state.open += 1;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    res.on('close', () => (state.open -= 1));
    state.served[state.mode] += 1;
    if (state.mode === 'ok') res.end('ok');
    else if (state.mode === 'unavailable') res.writeHead(503).end('draining');
    else if (state.mode === 'redirect') res.writeHead(302, { location: '/elsewhere' }).end();
    else hung.push(res);
  });
  return { server, state, hung };
}

describe('http check', () => {
  const { server, state } = healthServer();
  let port = 0;
  const handles: HealthCheckHandle[] = [];
  const start = (check: Partial<HttpCheck>, onChange = recordChanges().onChange) => {
    const handle = startHealthCheck({
      check: { type: 'http', port: 'http', path: '/healthz', interval: '50ms', timeout: '300ms', ...check },
      address: '127.0.0.1',
      ports: { http: port },
      onChange,
    });
    handles.push(handle);
    return handle;
  };

  before(async () => {
    port = await listenLoopback(server);
  });
  after(async () => {
    for (const handle of handles) handle.stop();
    server.closeAllConnections();
    await closeServer(server);
  });

  it('is passing after the first 200, probing the configured path', async () => {
    state.mode = 'ok';
    const { changes, onChange } = recordChanges();
    const handle = start({}, onChange);
    assert.equal(handle.state, 'unknown');
    await waitUntil(() => changes.length === 1, 'the first flip');
    handle.stop();
    assert.deepEqual(changes, [{ state: 'passing', reason: 'HTTP 200 from /healthz', consecutive: 1, snapshot: 0 }]);
    assert.equal(handle.state, 'passing');
    assert.equal(handle.lastResult?.ok, true);
    assert.equal(handle.lastResult.reason, 'HTTP 200 from /healthz');
    assert.ok(state.paths.includes('/healthz'));
  });

  it('flips to critical after exactly unhealthyThreshold failures and back after healthyThreshold successes', async () => {
    state.mode = 'ok';
    const { changes, onChange } = recordChanges(() => (state.mode === 'ok' ? state.served.ok : state.served.unavailable));
    const handle = start({ unhealthyThreshold: 3, healthyThreshold: 2 }, onChange);
    await waitUntil(() => changes.length === 1, 'passing');

    const unavailableBefore = state.served.unavailable;
    state.mode = 'unavailable';
    await waitUntil(() => changes.length === 2, 'critical');
    // The flip happens on the third 503 in a row, not earlier and not later.
    assert.equal((changes[1]?.snapshot ?? 0) - unavailableBefore, 3);

    const okBefore = state.served.ok;
    state.mode = 'ok';
    await waitUntil(() => changes.length === 3, 'passing again');
    handle.stop();
    assert.equal((changes[2]?.snapshot ?? 0) - okBefore, 2);
    assert.deepEqual(
      changes.map(({ state: s, reason, consecutive }) => ({ s, reason, consecutive })),
      [
        { s: 'passing', reason: 'HTTP 200 from /healthz', consecutive: 1 },
        { s: 'critical', reason: 'HTTP 503 from /healthz', consecutive: 3 },
        { s: 'passing', reason: 'HTTP 200 from /healthz', consecutive: 2 },
      ],
    );
  });

  it('counts a redirect as a failure and does not follow it', async () => {
    state.mode = 'redirect';
    const { changes, onChange } = recordChanges();
    const handle = start({}, onChange);
    await waitUntil(() => changes.length === 1, 'the first flip');
    handle.stop();
    assert.deepEqual(changes[0], { state: 'critical', reason: 'HTTP 302 from /healthz', consecutive: 1, snapshot: 0 });
    assert.ok(!state.paths.includes('/elsewhere'));
  });

  it('reports a timeout when the server hangs, without overlapping probes', async () => {
    state.mode = 'hang';
    state.maxOpen = 0;
    const { changes, onChange } = recordChanges();
    // The timeout is longer than the interval: ticks during a probe must be skipped.
    const handle = start({ interval: '40ms', timeout: '250ms' }, onChange);
    await waitUntil(() => changes.length === 1, 'the timeout');
    await sleep(300);
    handle.stop();
    assert.deepEqual(changes[0], { state: 'critical', reason: 'timeout after 250 ms', consecutive: 1, snapshot: 0 });
    assert.ok((handle.lastResult?.durationMs ?? 0) >= 240, `durationMs ${handle.lastResult?.durationMs}`);
    assert.equal(state.maxOpen, 1, 'at most one probe in flight');
    // The aborted probes released their connections.
    await waitUntil(() => state.open === 0, 'hung requests closed by the checker', 1000);
  });

  it('reports a refused connection', async () => {
    const closed = await refusedPort();
    const { changes, onChange } = recordChanges();
    const handle = startHealthCheck({ check: { type: 'http', port: closed, path: '/', interval: '1s' }, address: '127.0.0.1', ports: {}, onChange });
    handles.push(handle);
    await waitUntil(() => changes.length === 1, 'the first flip');
    handle.stop();
    assert.deepEqual(changes[0], { state: 'critical', reason: `connect ECONNREFUSED 127.0.0.1:${closed}`, consecutive: 1, snapshot: 0 });
  });

  it('stops probing after stop()', async () => {
    state.mode = 'ok';
    const { changes, onChange } = recordChanges();
    const before = state.served.ok;
    const handle = start({ interval: '20ms' }, onChange);
    await waitUntil(() => state.served.ok >= before + 3, 'a few probes');
    handle.stop();
    await sleep(20);
    const hits = state.served.ok;
    await sleep(200);
    assert.equal(state.served.ok, hits, 'no probe after stop()');
    await handle.runNow();
    assert.equal(state.served.ok, hits, 'runNow() after stop() does not probe');
    assert.equal(changes.length, 1);
  });
});
