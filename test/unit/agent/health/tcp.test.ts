import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { it } from 'node:test';
import { startHealthCheck } from '../../../../agent/health/index.js';
import { recordChanges } from '../../../support/health.js';
import { waitUntil } from '../../../support/harness.js';
import { closeServer, listenLoopback } from '../../../support/net.js';

it('tcp check: passing while listening, critical after the server closes', async () => {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listenLoopback(server);
  const { changes, onChange } = recordChanges();
  const handle = startHealthCheck({
    check: { type: 'tcp', port: 'db', interval: '50ms', timeout: '500ms', unhealthyThreshold: 2 },
    address: '127.0.0.1',
    ports: { db: port },
    onChange,
  });
  try {
    await waitUntil(() => changes.length === 1, 'passing');
    assert.deepEqual(changes[0], { state: 'passing', reason: `connected to 127.0.0.1:${port}`, consecutive: 1, snapshot: 0 });
    await waitUntil(() => accepted >= 3, 'a few connections');
    // The probe closes what it opens: no connection is left on the server.
    await waitUntil(() => sockets.size === 0, 'probe connections closed', 1000);

    await closeServer(server);
    await waitUntil(() => changes.length === 2, 'critical');
    assert.deepEqual(changes[1], { state: 'critical', reason: `connect ECONNREFUSED 127.0.0.1:${port}`, consecutive: 2, snapshot: 0 });
    assert.equal(handle.state, 'critical');
  } finally {
    handle.stop();
    if (server.listening) await closeServer(server);
  }
});
