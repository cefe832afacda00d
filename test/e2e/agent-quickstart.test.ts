import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
// The README's command, exactly as a user runs it.
import { MERIDIAN_BIN as MERIDIAN } from '../support/cli.js';
import { eventually, useNatsServer, useTempDir } from '../support/harness.js';

const work = useTempDir('meridian-quickstart-');

function meridian(...args: string[]): string {
  const result = spawnSync(MERIDIAN, args, { cwd: work, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, `meridian ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

it("follows the README: a site's NATS, an agent, a service definition, meridian services, a graceful stop", async () => {
  meridian('ca', 'init', '--trust-domain', 'acme.internal');
  meridian('ca', 'site', 'eu-k8s');
  assert.match(meridian('site', 'nats-config', 'eu-k8s', '--out', 'site'), /nats-site\.conf/);
  assert.equal(statSync(join(work, 'site', 'nats-password')).mode & 0o777, 0o600);
  meridian('ca', 'issue', '--site', 'eu-k8s', '--kind', 'agent', '--name', 'node-1');
  // nats-server resolves `include` relative to its own config file, which lives in the harness's temp dir.
  const nats = await useNatsServer({ extraConfig: readFileSync(join(work, 'site', 'nats-site.conf'), 'utf8') });

  const pki = join(work, 'meridian-data', 'pki');
  mkdirSync(join(work, 'services.d'));
  writeFileSync(join(work, 'agent.json'), JSON.stringify({
    site: 'eu-k8s', region: 'eu-west', zone: 'eu-west-1a', platform: 'kubernetes', node: 'node-1',
    nats: { url: nats.url, passwordFile: 'site/nats-password', keyFile: `${pki}/sites/eu-k8s/agent/node-1.key`, certFile: `${pki}/sites/eu-k8s/agent/node-1.crt`, bundleFile: `${pki}/bundle.pem`, trustDomain: 'acme.internal' },
    api: { port: 0 },
    definitionsDir: 'services.d',
  }));
  writeFileSync(join(work, 'services.d', 'payments.yaml'), 'service: payments\nports:\n  http: 8080\nversion: 1.4.2\nlabels:\n  tier: backend\n');

  const agent = spawn(MERIDIAN, ['agent', 'run', '--config', 'agent.json'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  agent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  agent.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => agent.once('exit', resolve));
  after(() => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
  });
  const url = await eventually(() => /API (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? assert.fail(`no API yet:\n${output}`), { timeoutMs: 15_000 });
  const table = await eventually(() => {
    const stdout = meridian('services', '--agent', url);
    assert.match(stdout, /^payments\s+node-1-payments-8080\s+eu-k8s\s+eu-west\s+kubernetes\s+127\.0\.0\.1:8080\s+passing\s+fresh\s+1\.4\.2$/m);
    return stdout;
  }, { timeoutMs: 15_000 });
  assert.match(table, /1 instance\(s\), 1 usable/);

  agent.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(output, /agent stopped: instances deregistered/);
});
