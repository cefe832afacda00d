/**
 * An agent installed as a systemd service, joined with a token, serves cross-site calls:
 * `meridian agent install` into a temp root; `meridian token create` on the control host and
 * `meridian agent join` against the site control service's join endpoint write the credentials
 * into the installed credentials dir; the unit's own ExecStart and Environment then run the agent,
 * which renews its short-lived certificate itself; it is stopped with SIGTERM after the token
 * expired and started again from the same files; stopped past its certificate's lifetime, it is
 * told to join again, and a new token brings it back; then it is uninstalled (state kept, then
 * purged). systemd is not PID 1 on the test machines: the service runs as the current user, not
 * `User=meridian`, and without the unit's sandboxing, in a private mount namespace that shows it
 * the temp root's /etc/meridian and /var/lib/meridian at their real paths; the join runs in the
 * same kind of namespace, as root of it, as `sudo` would run it (test/support/systemd.ts).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
import type { MeridianChild } from '../support/secure-site.js';
import { freePort } from '../support/servers/index.js';
import { runAtTargetPaths, serviceStart, startUnitService } from '../support/systemd.js';

const FRONTEND = `spiffe://${TRUST_DOMAIN}/site/east/svc/frontend`;
/** Short lifetimes, so that the token expires and the agent renews (and, stopped, expires) within the test. */
const TOKEN_TTL_MS = 5_000;
const AGENT_TTL_MS = 6_000;
const CREDENTIAL_FILES = Object.values(INSTALLED_CREDENTIALS);
/** What the service and `meridian agent join` see of the installed system. */
const TARGET_PATHS = [INSTALLED_AGENT.configDir, INSTALLED_AGENT.stateDir];
let mesh: FederationMesh;
let west: RunningAgent;
let root: string;
/** The control host's files (its site.json), shown at their target paths to `meridian token create`. */
let controlRoot: string;
const SITE_JSON = `${INSTALLED_AGENT.configDir}/site.json`;
let controlAddress: string;
let outboundPort: number;

/** A path of the installed system inside the temp root. */
const installed = (path: string): string => join(root, path);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const credentials = (): string[] => CREDENTIAL_FILES.map((file) => readFileSync(installed(file), 'utf8'));
/** notAfter of the installed agent certificate (the chain's leaf), in ms. */
const certificateExpiry = (): number => Date.parse(new X509Certificate(readFileSync(installed(INSTALLED_CREDENTIALS.certFile))).validTo);

/** On the control host, from its /etc/meridian/site.json: `meridian token create --site east --ttl 5s --node vm-1 --config /etc/meridian/site.json`. */
async function createToken(): Promise<{ token: string; expiresAt: number }> {
  const argv = [MERIDIAN_BIN, 'token', 'create', '--site', 'east', '--ttl', `${TOKEN_TTL_MS / 1000}s`, '--node', 'vm-1', '--config', SITE_JSON];
  const run = runAtTargetPaths({ root: controlRoot, paths: [INSTALLED_AGENT.configDir], argv });
  assert.equal((await run.exited).code, 0, run.output());
  const token = /^mjt1\.east\.\S+$/m.exec(run.output())?.[0];
  const expiresAt = Date.parse(/expires at (\S+)/.exec(run.output())?.[1] ?? '');
  assert.ok(token !== undefined && Number.isFinite(expiresAt), run.output());
  return { token, expiresAt };
}

/** On the VM: `sudo meridian agent join --token T --control host:port --config /etc/meridian/agent.json`. */
async function joinAgent(token: string): Promise<{ code: number | null; output: string }> {
  const argv = [MERIDIAN_BIN, 'agent', 'join', '--token', token, '--control', controlAddress, '--config', INSTALLED_AGENT.configFile];
  const run = runAtTargetPaths({ root, paths: TARGET_PATHS, argv });
  const { code } = await run.exited;
  return { code, output: run.output() };
}

/** A join that succeeds: the credentials land in the installed credentials dir, each 0600. */
async function joinWith(token: string): Promise<void> {
  const joined = await joinAgent(token);
  assert.equal(joined.code, 0, joined.output);
  assert.match(joined.output, new RegExp(`joined site east as spiffe://${TRUST_DOMAIN.replaceAll('.', '\\.')}/site/east/agent/vm-1`));
  for (const file of CREDENTIAL_FILES) assert.equal(statSync(installed(file)).mode & 0o777, 0o600, file);
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

/** The installed unit's service, started with exactly its ExecStart and Environment. */
function launchService(): MeridianChild {
  const start = serviceStart(readFileSync(installed(INSTALLED_AGENT.unitFile), 'utf8'));
  assert.deepEqual(start.execStart, [MERIDIAN_BIN, 'agent', 'run', '--config', INSTALLED_AGENT.configFile]);
  assert.deepEqual(start.environment, { NODE_ENV: 'production' });
  return startUnitService({ root, start, paths: TARGET_PATHS });
}

/** Starts the installed unit's service; resolves once it served a cross-site call. */
async function startService(): Promise<MeridianChild> {
  const service = launchService();
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
async function stopService(service: MeridianChild): Promise<void> {
  service.child.kill('SIGTERM');
  assert.deepEqual(await service.exited, { code: 0, signal: null }, service.output());
  assert.match(service.output(), /agent stopped: instances deregistered/);
  await eventually(() => assert.deepEqual(west.view.query({ service: 'frontend', site: 'east' }), []), { timeoutMs: 10_000 });
}

before(async () => {
  // Agent certificates live 6 s, from the join (agentTtl) and from each renewal (the control's roleTtl).
  mesh = await startFederationMesh(['east', 'west'], { roleTtlMs: AGENT_TTL_MS, join: { port: 0, agentTtlMs: AGENT_TTL_MS } });
  controlAddress = (mesh.controls.get('east')?.join.url ?? '').replace('https://', '');
  west = await mesh.agent('west', 'west-1');
  const payments = await startExampleHttpService({ service: 'payments', site: 'west' });
  const frontend = await startExampleHttpService({ service: 'frontend', site: 'east' });
  fileScope.after(() => payments.close());
  fileScope.after(() => frontend.close());
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  // The control host's site.json (what `meridian site serve --config` reads): its PKI dir and NATS.
  controlRoot = useTempDir('meridian-control-');
  mkdirSync(join(controlRoot, INSTALLED_AGENT.configDir), { recursive: true });
  const siteConfig = { site: 'east', pkiDir: mesh.fed.pki.dir, nats: { url: mesh.fed.nats.site('east').url } };
  writeFileSync(join(controlRoot, SITE_JSON), JSON.stringify(siteConfig));
  root = useTempDir('meridian-vm-');
  outboundPort = await freePort();
  const work = useTempDir('meridian-operator-');
  const result = runCliSync(['agent', 'install', '--root', root, '--bin', MERIDIAN_BIN, '--config', writeOperatorConfig(work)], { timeoutMs: 20_000 });
  assert.equal(result.code, 0, result.stderr);
  mkdirSync(installed(`${INSTALLED_AGENT.configDir}/services.d`));
  writeFileSync(installed(`${INSTALLED_AGENT.configDir}/services.d/frontend.yaml`), `service: frontend\nports: { http: ${frontend.port} }\noutbound: { http: ${outboundPort} }\n`);
});

describe('an agent installed as a systemd service', () => {
  it('joins with a token, serves a cross-site call, renews its certificate, and serves again after a restart past the token expiry', async () => {
    const { token, expiresAt } = await createToken();
    await joinWith(token);
    const first = await startService();
    const tokenFile = installed(`${INSTALLED_AGENT.dataDir}/api-token`);
    const apiToken = readFileSync(tokenFile, 'utf8');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    // The agent renews its 6 s certificate with its certificate, into the installed files.
    const joinedExpiry = certificateExpiry();
    await first.waitFor(/agent identity renewed/, 15_000);
    await eventually(() => assert.ok(certificateExpiry() > joinedExpiry, 'the renewed certificate is written'), { timeoutMs: 5_000 });
    for (const file of CREDENTIAL_FILES) assert.equal(statSync(installed(file)).mode & 0o777, 0o600, file);
    await sleep(expiresAt + 200 - Date.now());
    await stopService(first);

    // The token is spent: a second join is refused and writes nothing (checked while the agent is stopped, not renewing).
    const files = credentials();
    const again = await joinAgent(token);
    assert.equal(again.code, 1, again.output);
    assert.match(again.output, /MERIDIAN_ERR_JOIN_TOKEN_USED/);
    assert.deepEqual(credentials(), files);

    // A reboot: the same files, no token needed.
    const second = await startService();
    assert.equal(readFileSync(tokenFile, 'utf8'), apiToken);
    await stopService(second);
  });

  it('stopped past its certificate lifetime, it is told to join again; a new token brings it back', async () => {
    await sleep(certificateExpiry() + 500 - Date.now());
    const stale = launchService();
    await stale.waitFor(/MERIDIAN_ERR_CERT_EXPIRED: .*meridian agent join --token/, 20_000);
    const exit = await stale.exited;
    assert.notEqual(exit.code, 0, stale.output());
    const { token } = await createToken();
    await joinWith(token);
    assert.ok(certificateExpiry() > Date.now());
    await stopService(await startService());
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
