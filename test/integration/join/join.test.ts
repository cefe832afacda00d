/**
 * Joining a node with a single-use token, end to end: `meridian token create` and `meridian agent
 * join` as real processes, the control service's join endpoint over real TLS 1.3, the token store
 * in a real nats-server, and the agent then starting from the files the join wrote.
 */
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadAgentConfig } from '../../../agent/config.js';
import { joinSite } from '../../../agent/join/index.js';
import { startAgent } from '../../../agent/runtime.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import { createJoinToken, openJoinStore } from '../../../services/site/join/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { createCsr, formatJoinToken, generatePrivateKey, parseJoinToken } from '../../../shared/identity/index.js';
import { runCli } from '../../support/cli.js';
import { eventually, fileScope } from '../../support/harness.js';
import { joiningAgentConfig, postJoinRaw } from '../../support/join.js';
import { captureLogger, spawnMeridian, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;
let control: ControlService;
let controlAddress: string;
const controlLog = captureLogger();

before(async () => {
  site = await useSecureSite({ site: 'solo' });
  site.pki.createSite('other');
  // Functional refusals below come from one address: a generous limit here, the default one in rate-limit.test.ts.
  control = await startControlService({ pki: site.pki, site: site.site, natsUrl: site.nats.url, heartbeatMs: 500, join: { port: 0, limits: { perAddress: 100 } }, log: controlLog.log });
  fileScope.after(() => control.stop());
  controlAddress = (control.join.url ?? '').replace('https://', '');
});

/** A fresh token of the site, as `meridian token create` makes it. */
async function token(options: { ttlMs?: number; node?: string } = {}): Promise<string> {
  const store = await openJoinStore({ pki: site.pki, site: site.site, natsUrl: site.nats.url });
  try {
    return (await createJoinToken(store.kv, { site: site.site, siteCa: site.pki.loadSiteCertificate(site.site), ...options })).text;
  } finally {
    await store.close();
  }
}

function writeConfig(node: string): string {
  return site.writeJson(`${node}.json`, joiningAgentConfig(site, node));
}

const refused = (code: string) => (error: unknown) => isMeridianError(error) && error.code === code;
const joinLines = (): number => controlLog.lines.filter((l) => l.message === 'join refused' || l.message === 'node joined').length;

describe('meridian token create and meridian agent join', () => {
  it('join a node: the agent starts from the written files (all 0600) and registers', async () => {
    const created = await runCli(['token', 'create', '--site', 'solo', '--dir', site.pki.dir, '--nats', site.nats.url, '--node', 'vm-1']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^mjt1\.solo\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}\n$/);
    const configFile = writeConfig('vm-1');
    const joined = await runCli(['agent', 'join', '--token', created.stdout.trim(), '--control', controlAddress, '--config', configFile]);
    assert.equal(joined.code, 0, joined.stderr);
    assert.match(joined.stdout, /joined site solo as spiffe:\/\/acme\.internal\/site\/solo\/agent\/vm-1/);
    const config = loadAgentConfig(configFile);
    for (const file of [config.nats.keyFile, config.nats.certFile, config.nats.bundleFile, config.nats.passwordFile]) {
      assert.equal(statSync(file).mode & 0o777, 0o600, file);
    }
    const agent = await startAgent(config, captureLogger().log);
    fileScope.after(() => agent.stop());
    await agent.registrar.register({ service: 'web', instanceId: 'web-vm-1', ports: { http: 8080 } }, { kind: 'api' });
    await eventually(() => assert.equal(control.view.query({ service: 'web' })[0]?.instance.node, 'vm-1'));
    const secret = parseJoinToken(created.stdout).secret;
    assert.ok(!controlLog.text().includes(secret), 'the control service never logs a secret');
    assert.ok(controlLog.lines.some((l) => l.message === 'node joined' && l.fields['node'] === 'vm-1'));
  });

  it('a used token is refused (MERIDIAN_ERR_JOIN_TOKEN_USED), logged with its id', async () => {
    const text = await token();
    const configFile = writeConfig('vm-reuse');
    assert.equal((await runCli(['agent', 'join', '--token', text, '--control', controlAddress, '--config', configFile])).code, 0);
    const again = await runCli(['agent', 'join', '--token', text, '--control', controlAddress, '--config', configFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /MERIDIAN_ERR_JOIN_TOKEN_USED/);
    const id = parseJoinToken(text).id;
    assert.ok(controlLog.lines.some((l) => l.message === 'join refused' && l.fields['code'] === 'MERIDIAN_ERR_JOIN_TOKEN_USED' && l.fields['tokenId'] === id && l.fields['remote'] !== undefined));
  });

  it('an expired token is refused (MERIDIAN_ERR_JOIN_TOKEN_EXPIRED)', async () => {
    const text = await token({ ttlMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await assert.rejects(joinSite({ token: text, control: controlAddress, config: joiningAgentConfig(site, 'vm-late') }), refused('MERIDIAN_ERR_JOIN_TOKEN_EXPIRED'));
  });

  it('a token of another site is refused by the control service (MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE) and by the node', async () => {
    const other = parseJoinToken(await token());
    const foreign = formatJoinToken({ ...other, site: 'other' });
    const answer = await postJoinRaw(control.join.url ?? '', { token: foreign, csr: 'x', node: 'vm-f' }, { bundle: site.pki.loadBundle().toPem() });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, 'MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE');
    await assert.rejects(joinSite({ token: foreign, control: controlAddress, config: joiningAgentConfig(site, 'vm-f') }), refused('MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE'));
  });

  it('a forged secret is refused (MERIDIAN_ERR_JOIN_TOKEN_INVALID) and does not burn the genuine token', async () => {
    const genuine = parseJoinToken(await token());
    const forged = formatJoinToken({ ...genuine, secret: 'A'.repeat(43) });
    await assert.rejects(joinSite({ token: forged, control: controlAddress, config: joiningAgentConfig(site, 'vm-forged') }), refused('MERIDIAN_ERR_JOIN_TOKEN_INVALID'));
    const unknown = formatJoinToken({ ...genuine, id: 'B'.repeat(16) });
    await assert.rejects(joinSite({ token: unknown, control: controlAddress, config: joiningAgentConfig(site, 'vm-forged') }), refused('MERIDIAN_ERR_JOIN_TOKEN_INVALID'));
    const result = await joinSite({ token: formatJoinToken(genuine), control: controlAddress, config: joiningAgentConfig(site, 'vm-forged') });
    assert.equal(result.identity, 'spiffe://acme.internal/site/solo/agent/vm-forged');
  });

  it('a tampered CA hash: the node refuses the control service before sending anything', async () => {
    const genuine = parseJoinToken(await token());
    const tampered = formatJoinToken({ ...genuine, caHash: `${genuine.caHash.startsWith('A') ? 'B' : 'A'}${genuine.caHash.slice(1)}` });
    const before = joinLines();
    await assert.rejects(joinSite({ token: tampered, control: controlAddress, config: joiningAgentConfig(site, 'vm-mitm') }), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_JOIN_CA_MISMATCH'), String(error));
      assert.match(error.message, /nothing was sent/);
      return true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(joinLines(), before, 'the control service saw no join attempt');
    // Nothing reached it: the token is still unused.
    await joinSite({ token: formatJoinToken(genuine), control: controlAddress, config: joiningAgentConfig(site, 'vm-mitm') });
  });

  it('a node-bound token used by another node is refused (MERIDIAN_ERR_JOIN_NODE_MISMATCH); its node then joins', async () => {
    const text = await token({ node: 'vm-bound' });
    await assert.rejects(joinSite({ token: text, control: controlAddress, config: joiningAgentConfig(site, 'vm-thief') }), refused('MERIDIAN_ERR_JOIN_NODE_MISMATCH'));
    await joinSite({ token: text, control: controlAddress, config: joiningAgentConfig(site, 'vm-bound') });
  });

  it('two concurrent joins with one token: exactly one wins, the other gets MERIDIAN_ERR_JOIN_TOKEN_USED', async () => {
    for (let round = 0; round < 3; round += 1) {
      const text = await token();
      const results = await Promise.allSettled(['a', 'b', 'c'].map((n) => joinSite({ token: text, control: controlAddress, config: joiningAgentConfig(site, `race-${round}-${n}`) })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results));
      for (const r of results) if (r.status === 'rejected') assert.ok(refused('MERIDIAN_ERR_JOIN_TOKEN_USED')(r.reason), String(r.reason));
    }
  });

  it('a CSR for another identity (svc/control, another node), or a malformed one, is refused (MERIDIAN_ERR_CSR_INVALID) without using the token', async () => {
    const text = await token();
    const bundle = site.pki.loadBundle().toPem();
    const bad = await postJoinRaw(control.join.url ?? '', { token: text, csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', node: 'vm-csr' }, { bundle });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'MERIDIAN_ERR_CSR_INVALID');
    for (const uri of ['spiffe://acme.internal/site/solo/svc/control', 'spiffe://acme.internal/site/solo/agent/vm-other']) {
      const csr = createCsr({ privateKey: generatePrivateKey(), commonName: 'vm-csr', uris: [uri] });
      const other = await postJoinRaw(control.join.url ?? '', { token: text, csr, node: 'vm-csr' }, { bundle });
      assert.equal(other.status, 400);
      assert.equal(other.body.code, 'MERIDIAN_ERR_CSR_INVALID');
      assert.match(other.body.message ?? '', /exactly one URI SAN spiffe:\/\/acme\.internal\/site\/solo\/agent\/vm-csr/);
    }
    await joinSite({ token: text, control: controlAddress, config: joiningAgentConfig(site, 'vm-csr') });
  });

  it('token create refuses a lifetime over 24h with a clear error, and prints nothing on stdout', async () => {
    const result = await runCli(['token', 'create', '--site', 'solo', '--dir', site.pki.dir, '--nats', site.nats.url, '--ttl', '25h']);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /MERIDIAN_ERR_BAD_ARGUMENT: --ttl: a join token lives at most 24h/);
  });

  it('token list shows ids and states, never secrets; revoke makes a token unknown', async () => {
    const text = await token();
    const parsed = parseJoinToken(text);
    const where = ['--site', 'solo', '--dir', site.pki.dir, '--nats', site.nats.url];
    const listed = await runCli(['token', 'list', ...where]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${parsed.id} .* valid`));
    assert.ok(!listed.stdout.includes(parsed.secret));
    assert.equal((await runCli(['token', 'revoke', parsed.id, ...where])).code, 0);
    await assert.rejects(joinSite({ token: text, control: controlAddress, config: joiningAgentConfig(site, 'vm-revoked') }), refused('MERIDIAN_ERR_JOIN_TOKEN_INVALID'));
  });
});

describe('the files a join writes', () => {
  it('as root, each file takes the owner of its directory (the service user reads them); otherwise the caller owns them', async () => {
    const config = joiningAgentConfig(site, 'vm-owned');
    const dir = dirname(config.nats.keyFile);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const root = process.getuid?.() === 0;
    if (root) chownSync(dir, 65534, 65534);
    await joinSite({ token: await token(), control: controlAddress, config });
    for (const file of [config.nats.keyFile, config.nats.certFile, config.nats.bundleFile, config.nats.passwordFile]) {
      const stat = statSync(file);
      assert.equal(stat.mode & 0o777, 0o600, file);
      assert.deepEqual([stat.uid, stat.gid], root ? [65534, 65534] : [process.getuid?.(), process.getgid?.()], file);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['agent.crt', 'agent.key', 'bundle.pem', 'nats-password'], 'no temp file left behind');
  });

  it('token create reads the site config (--config site.json)', async () => {
    const file = site.writeJson('site.json', { site: 'solo', pkiDir: site.pki.dir, nats: { url: site.nats.url } });
    const created = await runCli(['token', 'create', '--site', 'solo', '--config', file]);
    assert.equal(created.code, 0, created.stderr);
    await joinSite({ token: created.stdout, control: controlAddress, config: joiningAgentConfig(site, 'vm-config') });
    const wrong = await runCli(['token', 'create', '--site', 'other', '--config', file]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--site other: .* is the config of site solo/);
  });
});

describe('meridian site serve --join-port', () => {
  it('serves the join endpoint from the flags; an unreachable control service leaves no file behind', async () => {
    const serve = spawnMeridian(['site', 'serve', 'solo', '--nats', site.nats.url, '--dir', site.pki.dir, '--join-port', '0']);
    const [, endpoint = ''] = await serve.waitFor(/join endpoint: https:\/\/(127\.0\.0\.1:\d+)\/v1\/join/);
    const text = await token();
    const config = joiningAgentConfig(site, 'vm-served');
    const result = await joinSite({ token: text, control: endpoint, config });
    assert.equal(result.identity, 'spiffe://acme.internal/site/solo/agent/vm-served');
    serve.child.kill('SIGTERM');
    assert.equal((await serve.exited).code, 0);
    const lost = joiningAgentConfig(site, 'vm-unreachable');
    await assert.rejects(joinSite({ token: await token(), control: endpoint, config: lost }), refused('MERIDIAN_ERR_UNAVAILABLE'));
    assert.equal(existsSync(dirname(lost.nats.keyFile)), false);
  });
});

describe('an agent whose certificate expired while it was down', () => {
  it('is told at start to join again with a token (MERIDIAN_ERR_CERT_EXPIRED)', async () => {
    const config = site.agentConfig('vm-asleep');
    // Re-issued over the same files with a one-second lifetime.
    const issued = site.pki.issueIdentity('solo', 'agent', 'vm-asleep', 1_000);
    const stale = { ...config, nats: { ...config.nats, keyFile: issued.keyPath, certFile: issued.certPath } };
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await assert.rejects(startAgent(stale, captureLogger().log), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CERT_EXPIRED'), String(error));
      assert.match(error.message, /meridian agent join --token/);
      return true;
    });
  });
});
