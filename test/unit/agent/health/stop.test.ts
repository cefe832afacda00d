import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { it } from 'node:test';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { closeServer, listenLoopback } from '../../../support/net.js';

const MODULE = new URL('../../../../agent/health/index.js', import.meta.url).href;

/** Starts one check of each type, waits for its first result, stops it; must then exit alone. */
const CHILD = `
import { startHealthCheck } from ${JSON.stringify(MODULE)};
const [http, grpc] = process.argv.slice(1).map(Number);
const checks = [
  { type: 'http', port: 'http', path: '/', interval: '20ms' },
  { type: 'tcp', port: 'http', interval: '20ms' },
  { type: 'grpc', port: 'grpc', service: '', interval: '20ms' },
  { type: 'ttl', ttl: '1h' },
];
const handles = checks.map((check) => startHealthCheck({ check, address: '127.0.0.1', ports: { http, grpc }, onChange: () => undefined }));
handles[3].passTtl();
const deadline = Date.now() + 5000;
while (handles.some((h) => h.state === 'unknown') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
console.log(JSON.stringify(handles.map((h) => h.state)));
for (const handle of handles) handle.stop();
`;

it('a stopped checker leaves nothing that keeps the process alive', { timeout: 10_000 }, async () => {
  const http = createServer((_req, res) => res.end());
  const httpPort = await listenLoopback(http);
  const grpc = new Server();
  new HealthImplementation({ '': 'SERVING' }).addToServer(grpc);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, String(httpPort), String(grpcPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let printed = 0;
    child.stdout.once('data', () => (printed = Date.now()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), ['passing', 'passing', 'passing', 'passing']);
    // Exit follows stop() at once: no open socket, channel or ref'd timer is left behind.
    assert.ok(Date.now() - printed < 2000, `the child exited ${Date.now() - printed} ms after stop()`);
  } finally {
    grpc.forceShutdown();
    http.closeAllConnections();
    await closeServer(http);
  }
});
