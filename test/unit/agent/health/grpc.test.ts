import assert from 'node:assert/strict';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { after, before, describe, it } from 'node:test';
import { startHealthCheck, type HealthCheckHandle } from '../../../../agent/health/index.js';
import { recordChanges } from '../../../support/health.js';
import { waitUntil } from '../../../support/harness.js';

/** A real grpc-js server serving the official health service implementation. */
async function startGrpcServer(health: HealthImplementation, port = 0): Promise<{ server: Server; port: number }> {
  const server = new Server();
  health.addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}

describe('grpc check', () => {
  const health = new HealthImplementation({ '': 'SERVING', payments: 'SERVING' });
  let server: Server;
  let port = 0;
  const handles: HealthCheckHandle[] = [];
  const start = (service: string, onChange = recordChanges().onChange) => {
    const handle = startHealthCheck({
      check: { type: 'grpc', port: 'grpc', service, interval: '50ms', timeout: '500ms', unhealthyThreshold: 2 },
      address: '127.0.0.1',
      ports: { grpc: port },
      onChange,
    });
    handles.push(handle);
    return handle;
  };

  before(async () => {
    ({ server, port } = await startGrpcServer(health));
  });
  after(() => {
    for (const handle of handles) handle.stop();
    server.forceShutdown();
  });

  it('passes on SERVING, for the whole server and for a named service', async () => {
    const whole = recordChanges();
    const named = recordChanges();
    const a = start('', whole.onChange);
    const b = start('payments', named.onChange);
    await waitUntil(() => whole.changes.length === 1 && named.changes.length === 1, 'both checks decided');
    a.stop();
    b.stop();
    assert.deepEqual(whole.changes[0], { state: 'passing', reason: 'health status SERVING for the server (service "")', consecutive: 1, snapshot: 0 });
    assert.deepEqual(named.changes[0], { state: 'passing', reason: 'health status SERVING for service "payments"', consecutive: 1, snapshot: 0 });
  });

  it('turns critical on NOT_SERVING and passing again on SERVING', async () => {
    health.setStatus('payments', 'SERVING');
    const { changes, onChange } = recordChanges();
    const handle = start('payments', onChange);
    await waitUntil(() => changes.length === 1, 'passing');
    health.setStatus('payments', 'NOT_SERVING');
    await waitUntil(() => changes.length === 2, 'critical');
    health.setStatus('payments', 'SERVING');
    await waitUntil(() => changes.length === 3, 'passing again');
    handle.stop();
    assert.deepEqual(
      changes.map((c) => [c.state, c.reason, c.consecutive]),
      [
        ['passing', 'health status SERVING for service "payments"', 1],
        ['critical', 'health status NOT_SERVING for service "payments"', 2],
        ['passing', 'health status SERVING for service "payments"', 1],
      ],
    );
  });

  it('is critical for a service the server does not know (NOT_FOUND, i.e. SERVICE_UNKNOWN)', async () => {
    const { changes, onChange } = recordChanges();
    const handle = start('no-such-service', onChange);
    await waitUntil(() => changes.length === 1, 'critical');
    handle.stop();
    assert.deepEqual(changes[0], {
      state: 'critical',
      reason: 'health status SERVICE_UNKNOWN for service "no-such-service" (gRPC NOT_FOUND)',
      consecutive: 1,
      snapshot: 0,
    });
  });

  it('is critical while the server is down and passing once it is back', async () => {
    const own = new HealthImplementation({ '': 'SERVING' });
    let { server: downable, port: ownPort } = await startGrpcServer(own);
    const { changes, onChange } = recordChanges();
    const handle = startHealthCheck({
      check: { type: 'grpc', port: ownPort, service: '', interval: '50ms', timeout: '500ms', unhealthyThreshold: 2 },
      address: '127.0.0.1',
      ports: {},
      onChange,
    });
    handles.push(handle);
    try {
      await waitUntil(() => changes.length === 1, 'passing');
      downable.forceShutdown();
      await waitUntil(() => changes.length === 2, 'critical');
      assert.equal(changes[1]?.state, 'critical');
      assert.match(changes[1]?.reason ?? '', /^gRPC UNAVAILABLE/);

      // The channel's reconnect backoff is capped near the interval, so the way back is quick.
      ({ server: downable, port: ownPort } = await startGrpcServer(own, ownPort));
      const back = Date.now();
      await waitUntil(() => changes.length === 3, 'passing after the restart');
      assert.equal(changes[2]?.state, 'passing');
      assert.ok(Date.now() - back < 1500, `back to passing in ${Date.now() - back} ms`);
    } finally {
      handle.stop();
      downable.forceShutdown();
    }
  });
});
