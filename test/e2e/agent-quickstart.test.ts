import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MERIDIAN_BIN as MERIDIAN, REPO_ROOT } from '../support/cli.js';
import { eventually, useNatsServer, useTempDir } from '../support/harness.js';

// The README's commands, exactly as a user runs them.
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const work = useTempDir('meridian-quickstart-');

/** The README's curl lines for the agent API, verbatim (asserted present below), run against the agent's real port. */
const CURL_REGISTER = `curl -X POST localhost:8510/v1/services -H "Authorization: Bearer $(cat meridian-data/agent/api-token)" \\
  -H 'content-type: application/json' -d '{"service":"orders","ports":{"http":7001}}'`;
const CURL_DELETE = 'curl -X DELETE localhost:8510/v1/services/<instanceId> -H "Authorization: Bearer $(cat meridian-data/agent/api-token)"';
const CURL_PASS = 'curl -X PUT localhost:8510/v1/checks/<instanceId>/pass -H "Authorization: Bearer $(cat meridian-data/agent/api-token)"';
const CURL_READ = `curl -H "Authorization: Bearer $(cat meridian-data/agent/api-token)" 'localhost:8510/v1/instances?service=payments'`;

function meridian(...args: string[]): string {
  const result = spawnSync(MERIDIAN, args, { cwd: work, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, `meridian ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Runs a README command in a shell, in the user's directory, with the agent's real address. */
function shell(command: string, api: string, instanceId = ''): string {
  const result = spawnSync('sh', ['-c', command.replaceAll('localhost:8510', api).replaceAll('<instanceId>', instanceId)], { cwd: work, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, `${command}: ${result.stderr}`);
  return result.stdout;
}

/** The README's payments.yaml, with the port of the app this test runs in its place (8080 may be taken here). */
function paymentsYaml(port: number): string {
  const block = /```yaml\n# services\.d\/payments\.yaml\n([\s\S]*?)```/.exec(README)?.[1] ?? assert.fail('README has no services.d/payments.yaml block');
  return block.replace('http: 8080', `http: ${port}`);
}

it("follows the README: a site's NATS, an agent, its API with the token, meridian services, a graceful stop", async () => {
  for (const command of [CURL_REGISTER, CURL_DELETE, CURL_PASS, CURL_READ]) assert.ok(README.includes(command), `README lost: ${command}`);
  meridian('ca', 'init', '--trust-domain', 'acme.internal');
  meridian('ca', 'site', 'eu-k8s');
  assert.match(meridian('site', 'nats-config', 'eu-k8s', '--out', 'site'), /nats-site\.conf/);
  assert.equal(statSync(join(work, 'site', 'nats-password')).mode & 0o777, 0o600);
  meridian('ca', 'issue', '--site', 'eu-k8s', '--kind', 'agent', '--name', 'node-1');
  // nats-server resolves `include` relative to its own config file, which lives in the harness's temp dir.
  const nats = await useNatsServer({ extraConfig: readFileSync(join(work, 'site', 'nats-site.conf'), 'utf8') });
  // The payments app the definition describes: it answers its health check.
  const app = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end()).listen(0, '127.0.0.1');
  await once(app, 'listening');
  after(() => app.close());
  const port = (app.address() as AddressInfo).port;

  const pki = join(work, 'meridian-data', 'pki');
  mkdirSync(join(work, 'services.d'));
  writeFileSync(join(work, 'agent.json'), JSON.stringify({
    site: 'eu-k8s', region: 'eu-west', zone: 'eu-west-1a', platform: 'kubernetes', node: 'node-1',
    nats: { url: nats.url, passwordFile: 'site/nats-password', keyFile: `${pki}/sites/eu-k8s/agent/node-1.key`, certFile: `${pki}/sites/eu-k8s/agent/node-1.crt`, bundleFile: `${pki}/bundle.pem`, trustDomain: 'acme.internal' },
    api: { port: 0 },
    definitionsDir: 'services.d',
  }));
  writeFileSync(join(work, 'services.d', 'payments.yaml'), paymentsYaml(port));

  const agent = spawn(MERIDIAN, ['agent', 'run', '--config', 'agent.json'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  agent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  agent.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => agent.once('exit', resolve));
  after(() => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
  });
  const url = await eventually(() => /API (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? assert.fail(`no API yet:\n${output}`), { timeoutMs: 15_000 });
  const api = url.replace('http://', '');
  assert.equal(statSync(join(work, 'meridian-data', 'agent', 'api-token')).mode & 0o777, 0o600);
  const payments = new RegExp(String.raw`^payments\s+node-1-payments-${port}\s+eu-k8s\s+eu-west\s+kubernetes\s+127\.0\.0\.1:${port}\s+passing\s+fresh\s+1\.4\.2$`, 'm');
  const table = await eventually(() => {
    const stdout = meridian('services', '--agent', url);
    assert.match(stdout, payments);
    return stdout;
  }, { timeoutMs: 15_000 });
  assert.match(table, /1 instance\(s\), 1 usable/);
  assert.deepEqual((JSON.parse(shell(CURL_READ, api)) as { instances: { instanceId: string }[] }).instances.map((i) => i.instanceId), [`node-1-payments-${port}`]);

  const registered = JSON.parse(shell(CURL_REGISTER, api)) as { instanceId: string };
  assert.equal(registered.instanceId, 'node-1-orders-7001');
  assert.match(meridian('services', '--agent', url, '--service', 'orders'), /^orders\s+node-1-orders-7001\s+eu-k8s/m);
  // orders has no ttl check: the token is accepted and the agent says why it cannot pass one.
  assert.deepEqual(JSON.parse(shell(CURL_PASS, api, registered.instanceId)), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: 'passTtl: the check is of type tcp; only a check of type ttl can be passed' });
  assert.equal(shell(CURL_DELETE, api, registered.instanceId), '');
  assert.match(meridian('services', '--agent', url, '--service', 'orders'), /^0 instance\(s\), 0 usable$/m);
  const refused = spawnSync('sh', ['-c', `curl -s 'http://${api}/v1/instances'`], { encoding: 'utf8' });
  assert.equal((JSON.parse(refused.stdout) as { code: string }).code, 'MERIDIAN_ERR_UNAUTHORIZED');

  agent.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(output, /agent stopped: instances deregistered/);
});
