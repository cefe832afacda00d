/**
 * `meridian policy apply|get|diff|history|rollback` and `meridian revoke` against a real 2-site
 * mesh (NATS supercluster, a control service and a gateway per site, an agent): each command as
 * a user runs it, and every running process (agent, gateways, control services) enforcing what
 * was applied through its own follower.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { readLatestPolicy, REVOCATIONS_FILE } from '../../../shared/policy/distribution/index.js';
import { runCli } from '../../support/cli.js';
import { eventually, useTempDir } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { INVALID_SET, policySet } from './policy-sets.js';

let mesh: FederationMesh;
let agent: RunningAgent;
let work: string;

function meridian(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli([...args, '--site', 'a', '--dir', mesh.fed.pki.dir, '--nats', mesh.fed.nats.site('a').url]);
}

function write(name: string, sources: readonly { file: string; text: string }[]): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const source of sources) writeFileSync(join(dir, source.file), source.text);
  return dir;
}

/** Every process of the mesh enforces `version`. */
async function everywhere(version: number): Promise<void> {
  const all = [agent.policy, ...[...mesh.gateways.values()].map((g) => g.policy), ...[...mesh.controls.values()].map((c) => c.policy)];
  await eventually(() => assert.deepEqual(all.map((p) => p.current.version), all.map(() => version)), { timeoutMs: 10_000, intervalMs: 20 });
}

async function latestVersion(): Promise<number | undefined> {
  const control = mesh.controls.get('a');
  assert.ok(control !== undefined);
  return (await readLatestPolicy(control.nc))?.version;
}

describe('meridian policy and revoke, with every process following', () => {
  before(async () => {
    mesh = await startFederationMesh(['a', 'b']);
    agent = await mesh.agent('a', 'node-1');
    work = useTempDir('meridian-policy-cli-');
  });

  it('before any set: get says none is published, every process enforces no version (allow all)', async () => {
    const got = await meridian('policy', 'get');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, '');
    assert.match(got.stderr, /no policy set is published yet/);
    assert.equal(agent.policyFollower.report().version, null);
    assert.equal(agent.policy.current.authorizer.decide({ source: { uri: 'spiffe://acme.internal/site/a/svc/x' } as never, destinationService: 'payments', protocol: 'http' }).allowed, true);
  });

  it('apply publishes version 1 and the agent, both gateways and both control services enforce it; the same set again is unchanged', async () => {
    const dir = write('v1', policySet(1));
    const applied = await meridian('policy', 'apply', '-f', dir);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^policy version 1 applied, based on none, digest sha256:/);
    await everywhere(1);
    assert.deepEqual(agent.policyFollower.report(), { version: 1, rejected: null });
    const again = await meridian('policy', 'apply', '-f', dir);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^unchanged: version 1 already has this policy set/);
  });

  it('a stale --expect-version is refused with POLICY_CONFLICT naming both versions; an invalid set is refused whole; version unchanged', async () => {
    const stale = await meridian('policy', 'apply', '-f', write('v2', policySet(2)), '--expect-version', '7');
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /MERIDIAN_ERR_POLICY_CONFLICT: policy conflict: this apply was based on version 7, but the latest version is now 1/);
    const invalid = await meridian('policy', 'apply', '-f', write('bad', INVALID_SET));
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /policy set invalid: \d+ violations; nothing applied/);
    assert.match(invalid.stderr, /broken\.yaml/);
    assert.equal(await latestVersion(), 1);
    assert.equal(agent.policy.current.version, 1);
  });

  it('diff: exit 0 against the same set, exit 1 naming the changed document; get prints YAML that applies back unchanged', async () => {
    const same = await meridian('policy', 'diff', '-f', join(work, 'v1'));
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /no difference from version 1/);
    const changed = await meridian('policy', 'diff', '-f', join(work, 'v2'));
    assert.equal(changed.code, 1);
    assert.equal(changed.stdout.trim(), '~ Authorization/payments-callers  (changed)');
    const got = await meridian('policy', 'get');
    assert.equal(got.code, 0);
    assert.match(got.stdout, /^# payments\.yaml\nkind: Authorization/);
    writeFileSync(join(work, 'got.yaml'), got.stdout);
    const back = await meridian('policy', 'apply', '-f', join(work, 'got.yaml'));
    assert.match(back.stdout, /^unchanged: version 1/);
  });

  it('revoke --identity adds an entry (24 h) as a new version every process enforces; a foreign identity is a usage error', async () => {
    const revoked = await meridian('revoke', '--identity', 'spiffe://acme.internal/site/b/svc/orders', '--reason', 'laptop stolen');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout.trim(), /^spiffe:\/\/acme\.internal\/site\/b\/svc\/orders revoked until \S+: policy version 2$/);
    await everywhere(2);
    const notAfter = Date.now() + 23 * 3600_000;
    assert.equal(agent.policy.current.revocations.isRevoked({ uri: 'spiffe://acme.internal/site/b/svc/orders', serial: '01', notAfter }), true);
    const control = mesh.controls.get('a');
    assert.ok(control !== undefined);
    const latest = await readLatestPolicy(control.nc);
    assert.deepEqual(latest?.sources.map((s) => s.file).sort(), [REVOCATIONS_FILE, 'payments.yaml']);
    const serial = await meridian('revoke', '--serial', '0a:1b', '--until', new Date(Date.now() + 3600_000).toISOString());
    assert.equal(serial.code, 0, serial.stderr);
    await everywhere(3);
    assert.equal(agent.policy.current.revocations.isRevoked({ uri: 'spiffe://acme.internal/site/a/svc/x', serial: '0A1B', notAfter }), true);
    const foreign = await meridian('revoke', '--identity', 'spiffe://evil.example/site/b/svc/orders');
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /MERIDIAN_ERR_BAD_ARGUMENT: --identity spiffe:\/\/evil\.example/);
    assert.equal(await latestVersion(), 3);
  });

  it('history lists every version with who applied it; rollback re-applies version 1 as version 4 everywhere', async () => {
    const rolled = await meridian('policy', 'rollback', '1');
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /^policy version 4 applied \(rollback of version 1\), based on 3/);
    await everywhere(4);
    assert.equal(agent.policy.current.revocations.size, 0);
    const history = await meridian('policy', 'history');
    assert.equal(history.code, 0, history.stderr);
    const lines = history.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /VERSION\s+DIGEST\s+APPLIED AT\s+APPLIED BY\s+ROLLBACK OF/);
    assert.deepEqual(lines.slice(1).map((l) => l.trim().split(/\s+/)[0]), ['1', '2', '3', '4']);
    assert.match(lines[4] ?? '', /@a\s+1$/);
  });
});
