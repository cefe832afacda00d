import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { findBinary, freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { startHttpApp } from '../../support/apps.js';
import { meshGet } from '../../support/status.js';
import { agentAuthorization } from '../../support/agent-process.js';

/*
 * `promtool check metrics` lints an exposition the way Prometheus' own tooling does (counter
 * names end in _total, gauges don't, units are base units...). Every Meridian process's real
 * /metrics, after real cross-site traffic so the request and tunnel series exist, must pass it.
 */

const TOKEN = 'promtool-status-token-0123456789';

let mesh: FederationMesh;
let east: RunningAgent;
let promtool: string;

/** promtool comes with Debian's prometheus package; a missing one fails the test with that hint (it never skips). */
function findPromtool(): string {
  try {
    return findBinary('promtool');
  } catch (error) {
    throw new Error(`promtool is missing: it comes with Debian's prometheus package (apt-get install prometheus; scripts/setup.sh installs it)`, { cause: error });
  }
}

/** Runs `promtool check metrics` on `exposition` (stdin): its exit code and everything it printed. */
function checkMetrics(exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(exposition);
  });
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, url);
  return response.text();
}

async function assertLintClean(what: string, exposition: string): Promise<void> {
  assert.match(exposition, /^# TYPE meridian_/m, `${what} serves Meridian metrics`);
  const { code, output } = await checkMetrics(exposition);
  assert.equal(output, '', `promtool check metrics on the ${what}'s /metrics:\n${output}`);
  assert.equal(code, 0);
}

before(async () => {
  promtool = findPromtool();
  mesh = await startFederationMesh(['east', 'west'], { status: { interval: '300ms', api: { tokens: [TOKEN] } } });
  let west: RunningAgent;
  [east, west] = await Promise.all([mesh.agent('east', 'east-1'), mesh.agent('west', 'west-1')]);
  const payments = await startHttpApp('payments', 'http');
  fileScope.after(() => payments.kill());
  const outboundPort = await freePort();
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  await east.registrar.register({ service: 'frontend', ports: { http: 1 }, outbound: { http: outboundPort } }, { kind: 'api' });
  await eventually(async () => assert.equal((await meshGet(outboundPort, 'payments.mesh')).status, 200), { timeoutMs: 20_000 });
  assert.equal((await meshGet(outboundPort, 'ghost.mesh')).status, 502);
});

describe('promtool check metrics', () => {
  it("finds no problem in an agent's /metrics", async () => {
    const text = await eventually(async () => {
      const body = await scrape(`${east.api.url}/metrics`, agentAuthorization(east));
      assert.match(body, /^meridian_request_duration_seconds_bucket\{/m, 'request series present');
      return body;
    });
    await assertLintClean('agent', text);
  });

  it("finds no problem in a gateway's /metrics", async () => {
    const url = mesh.gateways.get('east')?.metricsUrl;
    assert.ok(url !== undefined);
    const text = await eventually(async () => {
      const body = await scrape(url);
      assert.match(body, /^meridian_tunnel_bytes_total\{.*peer_site="west"/m, 'tunnel series present');
      return body;
    });
    await assertLintClean('gateway', text);
  });

  it("finds no problem in a control service's /metrics", async () => {
    const url = mesh.controls.get('east')?.status.api?.url;
    assert.ok(url !== undefined);
    const text = await eventually(async () => {
      const body = await scrape(`${url}/metrics`, { authorization: `Bearer ${TOKEN}` });
      assert.match(body, /^meridian_catalog_instances\{.*remote_site="west"/m, 'catalog series present');
      return body;
    });
    await assertLintClean('control service', text);
  });
});
