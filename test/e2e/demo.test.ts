import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../support/harness.js';

const DEMO = fileURLToPath(new URL('../../dev/demo/main.js', import.meta.url));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The demo's own working directory, as it printed it (other demos may run beside this one). */
function demoDir(output: string): string {
  const dir = /files in (\S+) \(removed when the demo stops\)/.exec(output)?.[1];
  assert.ok(dir !== undefined, `the demo did not say where its files are:\n${output}`);
  return dir;
}

it('npm run demo -- --smoke brings up three sites, checks them, prints the status and cleans up', async () => {
  const child = spawn(process.execPath, [DEMO, '--smoke'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, output);
  assert.ok(Date.now() - started < 60_000);
  assert.match(output, /call catalog@eu-k8s -> ledger@onprem \(http\): served by ledger@onprem, caller verified as spiffe:\/\/demo\.meridian\.internal\/site\/eu-k8s\/svc\/catalog/);
  assert.match(output, /call catalog@eu-k8s -> pricing@us-vm \(grpc\): served by pricing@us-vm, caller verified as spiffe:\/\/demo\.meridian\.internal\/site\/eu-k8s\/svc\/catalog/);
  assert.match(output, /call pricing@us-vm \(grpc\) -> ledger@onprem \(http\): served by ledger@onprem, caller verified as spiffe:\/\/demo\.meridian\.internal\/site\/us-vm\/svc\/pricing/);
  assert.match(output, /catalog: eu-k8s's agent sees ledger of onprem as usable/);
  assert.match(output, /catalog: onprem's agent sees pricing of us-vm as usable/);
  assert.match(output, /^catalog\s+eu-k8s-node-1-catalog-\d+\s+eu-k8s\s+eu-west\s+kubernetes\s+127\.0\.0\.1:\d+\s+passing\s+fresh\s+1\.0\.0$/m);
  assert.match(output, /^6 instance\(s\), 6 usable$/m);
  for (const [site, platform] of [['eu-k8s', 'kubernetes'], ['us-vm', 'vm'], ['onprem', 'bare-metal']]) {
    assert.match(output, new RegExp(`^${site}\\s+\\S+\\s+${platform}\\s+yes\\s+1/1\\s+1/1$`, 'm'));
  }
  assert.match(output, /^federation HEALTHY \(answered by eu-k8s/m);
  for (const link of ['eu-k8s → onprem', 'eu-k8s → us-vm', 'us-vm → onprem']) assert.match(output, new RegExp(`^${link}\\s+gw-1\\s+up\\s+\\d`, 'm'));
  assert.match(output, /^catalog@eu-k8s\s+ledger@onprem\s+cross-site\s/m);
  assert.match(output, /smoke: federation healthy/);
  const ports = [...new Set([...output.matchAll(/nats:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
  assert.equal(ports.length, 3);
  for (const port of ports) assert.equal(await accepts(port), false, `NATS on port ${port} must be stopped`);
  assert.equal(existsSync(demoDir(output)), false, 'the demo leaves no temp dir behind');
  assert.equal(isAlive(child.pid ?? -1), false);
});

it('npm run demo: first calls only once ready, and Ctrl-C on its process group stops everything within seconds', async () => {
  // Its own process group, as a terminal runs it: Ctrl-C sends SIGINT to the whole group.
  const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/^dashboard: http/m.test(output)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`demo exited (${String(code)}) before it was ready:\n${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await ready;
  assert.doesNotMatch(output, /FAILED|undefined@undefined|caller verified as nobody/, output);
  for (const call of ['catalog@eu-k8s -> ledger@onprem', 'catalog@eu-k8s -> pricing@us-vm', 'pricing@us-vm \\(grpc\\) -> ledger@onprem']) {
    assert.match(output, new RegExp(`call ${call}.*: served by \\w+@[\\w-]+, caller verified as spiffe://`));
  }
  const ports = [...new Set([...output.matchAll(/nats:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
  assert.equal(ports.length, 3);
  const interrupted = Date.now();
  process.kill(-(child.pid ?? 0), 'SIGINT');
  const code = await exited;
  const stopMs = Date.now() - interrupted;
  console.log(`demo stopped ${stopMs} ms after SIGINT to its process group`);
  assert.ok(stopMs < 10_000, `the demo took ${stopMs} ms to stop:\n${output.slice(-2000)}`);
  assert.equal(code, 0, output.slice(-2000));
  for (const port of ports) assert.equal(await accepts(port), false, `NATS on port ${port} must be stopped`);
  assert.equal(existsSync(demoDir(output)), false, 'the demo leaves no temp dir behind');
});
