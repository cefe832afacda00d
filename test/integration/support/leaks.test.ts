import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { eventually, isAlive } from '../../support/harness.js';

const CHILD = fileURLToPath(new URL('../../support/fixtures/leak-child.js', import.meta.url));

interface Started {
  nats: { pid: number; dir: string };
  redis: { pid: number; dir: string };
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  started: Started;
  stderr: string;
}

/** Runs the fixture in `mode`; with `signal`, sends it once the servers are up. */
async function runChild(mode: string, signal?: NodeJS.Signals): Promise<Outcome> {
  const child = spawn(process.execPath, [CHILD, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (signal && stdout.includes('\n')) child.kill(signal);
  });
  const [code, exitSignal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  const line = stdout.split('\n')[0] ?? '';
  assert.ok(line.startsWith('{'), `the child printed its servers; stdout=${stdout} stderr=${stderr}`);
  return { code, signal: exitSignal, started: JSON.parse(line) as Started, stderr };
}

async function assertNothingLeft(started: Started): Promise<void> {
  for (const server of [started.nats, started.redis]) {
    // The killed servers are re-parented and reaped by init; on our VMs that takes ~1.2 s.
    await eventually(() => assert.equal(isAlive(server.pid), false, `PID ${server.pid} is gone`), { timeoutMs: 5000, intervalMs: 20 });
    assert.equal(existsSync(server.dir), false, `${server.dir} was removed`);
  }
}

test('an uncaught error kills the servers it started and removes their dirs', { timeout: 20_000 }, async () => {
  const outcome = await runChild('throw');
  assert.equal(outcome.code, 1);
  assert.match(outcome.stderr, /deliberate uncaught error/);
  await assertNothingLeft(outcome.started);
});

test('SIGTERM kills the servers, removes their dirs and exits 143', { timeout: 20_000 }, async () => {
  const outcome = await runChild('signal', 'SIGTERM');
  assert.equal(outcome.code, 143);
  await assertNothingLeft(outcome.started);
});

test('a script that forgets stop() still exits, and cleans up on the way out', { timeout: 20_000 }, async () => {
  const outcome = await runChild('forget');
  assert.equal(outcome.code, 0);
  await assertNothingLeft(outcome.started);
});
