/**
 * An agent installed as a systemd service serves cross-site calls: `meridian agent install`
 * into a temp root, credentials from the site's PKI in the installed credentials dir, then the
 * unit's own ExecStart and Environment started, stopped with SIGTERM, started again from the
 * same files, and uninstalled (state kept, then purged). systemd is not PID 1 on the test
 * machines: the process runs as the current user, not `User=meridian`, and without the unit's
 * sandboxing, in a private mount namespace that shows it the temp root's /etc/meridian and
 * /var/lib/meridian at their real paths (test/support/systemd.ts).
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../agent/index.js';
import { INSTALLED_AGENT, INSTALLED_CREDENTIALS } from '../../agent/install/index.js';
import { startExampleHttpService } from '../../dev/examples/index.js';
import { MERIDIAN_BIN, runCliSync } from '../support/cli.js';
import { eventually, fileScope, useTempDir } from '../support/harness.js';
import { locality, startFederationMesh, type FederationMesh } from '../support/mesh/index.js';
import { TRUST_DOMAIN } from '../support/pki/index.js';
import { freePort } from '../support/servers/index.js';
import { serviceStart, startUnitService } from '../support/systemd.js';

const FRONTEND = `spiffe://${TRUST_DOMAIN}/site/east/svc/frontend`;
let mesh: FederationMesh;
let west: RunningAgent;
let root: string;
let outboundPort: number;

/** A path of the installed system inside the temp root. */
const installed = (path: string): string => join(root, path);

/**
 * What `meridian agent join` leaves in the credentials dir: the agent's key and chain, the trust
 * bundle and the site's NATS password, 0600. Here they come straight from the test PKI; the join
 * step replaces this one function.
 */
function joinAgent(site: string, node: string): void {
  const issued = mesh.fed.pki.issueIdentity(site, 'agent', node);
  const files: [string, string][] = [
    [issued.keyPath, INSTALLED_CREDENTIALS.keyFile],
    [issued.certPath, INSTALLED_CREDENTIALS.certFile],
    [mesh.fed.pki.bundlePath, INSTALLED_CREDENTIALS.bundleFile],
  ];
  for (const [from, to] of files) {
    copyFileSync(from, installed(to));
    chmodSync(installed(to), 0o600);
  }
  writeFileSync(installed(INSTALLED_CREDENTIALS.passwordFile), mesh.fed.setups.get(site)?.password ?? '', { mode: 0o600 });
}

/** The operator's agent.json for VM `vm-1` of site east: no credential paths, no data dir (the install sets them). */
function writeOperatorConfig(dir: string): string {
  const path = join(dir, 'agent.json');
  const config = {
    site: 'east',
    ...locality('east'),
    node: 'vm-1',
    nats: { url: mesh.fed.nats.site('east').url, trustDomain: TRUST_DOMAIN },
    api: { host: '127.0.0.1', port: 0 },
    mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '500ms' },
    definitionsDir: `${INSTALLED_AGENT.configDir}/services.d`,
    heartbeat: '500ms',
    staleAfter: '3s',
    leaseTtl: '3s',
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** GET / of `host` through the installed agent's outbound listener. */
function callThroughAgent(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: outboundPort, path: '/', headers: { host }, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
}

/** Starts the installed unit's service; resolves once it served a cross-site call. */
async function startService(): Promise<ReturnType<typeof startUnitService>> {
  const start = serviceStart(readFileSync(installed(INSTALLED_AGENT.unitFile), 'utf8'));
  assert.deepEqual(start.execStart, [MERIDIAN_BIN, 'agent', 'run', '--config', INSTALLED_AGENT.configFile]);
  assert.deepEqual(start.environment, { NODE_ENV: 'production' });
  const service = startUnitService({ root, start, paths: [INSTALLED_AGENT.configDir, INSTALLED_AGENT.stateDir] });
  await service.waitFor(/agent vm-1 of site east: API http:\/\/127\.0\.0\.1:\d+/, 20_000);
  const response = await eventually(
    async () => {
      const answer = await callThroughAgent('payments.mesh');
      assert.equal(answer.status, 200, `${answer.body}\n${service.output()}`);
      return answer;
    },
    { timeoutMs: 20_000 },
  );
  assert.deepEqual(JSON.parse(response.body), { service: 'payments', site: 'west', caller: FRONTEND, path: '/' });
  return service;
}

/** SIGTERM, as `systemctl stop` sends it (KillSignal=SIGTERM): a graceful stop that deregisters. */
async function stopService(service: ReturnType<typeof startUnitService>): Promise<void> {
  service.child.kill('SIGTERM');
  assert.deepEqual(await service.exited, { code: 0, signal: null }, service.output());
  assert.match(service.output(), /agent stopped: instances deregistered/);
  await eventually(() => assert.deepEqual(west.view.query({ service: 'frontend', site: 'east' }), []), { timeoutMs: 10_000 });
}

before(async () => {
  mesh = await startFederationMesh(['east', 'west']);
  west = await mesh.agent('west', 'west-1');
  const payments = await startExampleHttpService({ service: 'payments', site: 'west' });
  const frontend = await startExampleHttpService({ service: 'frontend', site: 'east' });
  fileScope.after(() => payments.close());
  fileScope.after(() => frontend.close());
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  root = useTempDir('meridian-vm-');
  outboundPort = await freePort();
  const work = useTempDir('meridian-operator-');
  const result = runCliSync(['agent', 'install', '--root', root, '--bin', MERIDIAN_BIN, '--config', writeOperatorConfig(work)], { timeoutMs: 20_000 });
  assert.equal(result.code, 0, result.stderr);
  joinAgent('east', 'vm-1');
  mkdirSync(installed(`${INSTALLED_AGENT.configDir}/services.d`));
  writeFileSync(installed(`${INSTALLED_AGENT.configDir}/services.d/frontend.yaml`), `service: frontend\nports: { http: ${frontend.port} }\noutbound: { http: ${outboundPort} }\n`);
});


describe('an agent installed as a systemd service', () => {
  it('serves a cross-site call, stops gracefully on SIGTERM, and serves again when started from the same files', async () => {
    const first = await startService();
    const tokenFile = installed(`${INSTALLED_AGENT.dataDir}/api-token`);
    const token = readFileSync(tokenFile, 'utf8');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    await stopService(first);
    const second = await startService();
    // The restart reads the state the first run left (same API token), as a reboot would.
    assert.equal(readFileSync(tokenFile, 'utf8'), token);
    await stopService(second);
  });

  it('uninstalls keeping the credentials and state, then purges them', () => {
    const kept = runCliSync(['agent', 'uninstall', '--root', root], { timeoutMs: 20_000 });
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(existsSync(installed(INSTALLED_AGENT.unitFile)), false);
    assert.ok(existsSync(installed(INSTALLED_CREDENTIALS.keyFile)));
    assert.ok(existsSync(installed(`${INSTALLED_AGENT.dataDir}/api-token`)));
    const purged = runCliSync(['agent', 'uninstall', '--root', root, '--purge'], { timeoutMs: 20_000 });
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(existsSync(installed(INSTALLED_AGENT.stateDir)), false);
    assert.equal(existsSync(installed(INSTALLED_AGENT.configDir)), false);
  });
});
