/**
 * The policy follower on a real 3-site NATS supercluster: each process follows its site's mirror
 * and keeps an on-disk copy; restarted while NATS is unreachable it enforces that copy at once; a
 * corrupt copy is set aside; it never goes back (an older copy, an older message); a version it
 * cannot parse is reported and the enforced one stays; a partitioned site keeps its version and
 * catches up after the heal.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseSpiffeId } from '../../../shared/identity/index.js';
import { LivePolicy, enforcedPolicy, parsePolicySet } from '../../../shared/policy/index.js';
import { POLICY_STREAM, POLICY_SUBJECT, applyPolicy, readLatestPolicy, savePolicyCopy, startPolicyFollower, type PolicyFollower } from '../../../shared/policy/distribution/index.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';
import { eventually, useTempDir } from '../../support/harness.js';
import { recordingLogger } from '../../support/mesh/index.js';
import { TD, policySet } from './policy-sets.js';

let fed: SecureFederation;
let control: NatsConnection;
let dir: string;
let next = 100;
const followers: PolicyFollower[] = [];

/** Applies a new set at site a; resolves to its version. */
async function applyNew(): Promise<number> {
  const result = await applyPolicy(control, { sources: policySet(next++), trustDomain: TD, appliedBy: { site: 'a', who: 'test' } });
  return result.record.version;
}

function follow(site: string, file: string, options: { connection?: () => Promise<NatsConnection>; policy?: LivePolicy } = {}): PolicyFollower & { log: ReturnType<typeof recordingLogger> } {
  const log = recordingLogger();
  const connection = options.connection ?? (() => fed.connectAgent(site, `node-${followers.length}`));
  const follower = startPolicyFollower({ connection, site, trustDomain: TD, file, log, retryMs: 200, ...(options.policy === undefined ? {} : { policy: options.policy }) });
  followers.push(follower);
  return Object.assign(follower, { log });
}

const never = (): Promise<NatsConnection> => new Promise(() => undefined);

describe('policy follower', () => {
  before(async () => {
    fed = await startSecureFederation(['a', 'b', 'c']);
    control = await fed.connectControl('a');
    dir = useTempDir('meridian-policy-follow-');
  });
  after(async () => {
    for (const follower of followers) follower.stop();
    await control.close();
  });

  it('every site follows its mirror: a new version is enforced at all three, and written to the copy (figures logged)', async () => {
    const sites = ['a', 'b', 'c'].map((site) => ({ site, follower: follow(site, join(dir, `first-${site}.json`)) }));
    const first = await applyNew();
    for (const { follower } of sites) await eventually(() => assert.equal(follower.policy.current.version, first), { timeoutMs: 15_000 });
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const version = await applyNew();
      await eventually(() => assert.ok(sites.every(({ follower }) => follower.policy.current.version === version)), { timeoutMs: 5000, intervalMs: 2 });
      delays.push(performance.now() - started);
    }
    delays.sort((x, y) => x - y);
    console.log(`apply -> enforced at 3 sites: median ${delays[5]?.toFixed(1)} ms, max ${delays[9]?.toFixed(1)} ms`);
    const latest = await readLatestPolicy(control);
    for (const { follower } of sites) {
      assert.equal(follower.report().version, latest?.version);
      assert.equal(follower.report().rejected, null);
      assert.equal(follower.policy.current.digest, latest?.digest);
    }
    assert.ok(existsSync(join(dir, 'first-c.json')));
  });

  it('restarted while NATS is unreachable, a follower enforces its on-disk copy at once', async () => {
    const file = join(dir, 'restart.json');
    const live = follow('b', file);
    const version = await applyNew();
    await eventually(() => assert.equal(live.policy.current.version, version), { timeoutMs: 5000 });
    live.stop();
    const restarted = follow('b', file, { connection: never });
    assert.equal(restarted.policy.current.version, version);
    assert.equal(restarted.policy.current.digest, (await readLatestPolicy(control))?.digest);
    const decision = restarted.policy.current.authorizer.decide({ source: parseSpiffeId('spiffe://acme.internal/site/a/svc/orders', TD), destinationService: 'payments', protocol: 'http', method: 'GET', path: '/elsewhere' });
    assert.equal(decision.allowed, false);
  });

  it('a corrupt copy is set aside (kept beside it) and the follower starts from no policy, then takes the latest', async () => {
    const file = join(dir, 'corrupt.json');
    writeFileSync(file, '{"format":1,"record":{"version":3,"dig');
    const follower = follow('c', file);
    assert.ok(readdirSync(dir).some((name) => name.startsWith('corrupt.json.corrupt-')));
    assert.ok(follower.log.lines.some((l) => l.level === 'warn' && /set aside/.test(l.message)));
    const latest = (await readLatestPolicy(control))?.version;
    await eventually(() => assert.equal(follower.policy.current.version, latest), { timeoutMs: 5000 });
  });

  it('never goes back: an older on-disk copy and an older message leave the newer version enforced', async () => {
    const latest = await readLatestPolicy(control);
    assert.ok(latest !== null);
    const file = join(dir, 'older.json');
    savePolicyCopy(file, { ...latest, version: 1 });
    const ahead = new LivePolicy(enforcedPolicy(parsePolicySet(policySet(999), { trustDomain: TD }), latest.version + 1000));
    const follower = follow('a', file, { policy: ahead });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(follower.policy.current.version, latest.version + 1000);
    assert.equal(follower.report().rejected, null);
  });

  it('a version the follower cannot parse is reported with the reason, and the enforced version stays', async () => {
    const follower = follow('b', join(dir, 'reject.json'));
    const good = (await readLatestPolicy(control))?.version;
    await eventually(() => assert.equal(follower.policy.current.version, good), { timeoutMs: 5000 });
    // Published by hand as the control user (applyPolicy would refuse it): a foreign trust domain.
    const body = { digest: 'sha256:x', sources: [{ file: 'x.yaml', text: 'kind: Authorization\nmetadata: { name: x }\nspec: { action: allow, service: s, rules: [{ from: [spiffe://evil.example/site/a/svc/x] }] }\n' }], appliedAt: new Date().toISOString(), appliedBy: { site: 'a', who: 'hand' }, basedOn: good };
    const ack = await jetstream(control).publish(POLICY_SUBJECT, JSON.stringify(body));
    await eventually(() => assert.equal(follower.report().rejected?.version, ack.seq), { timeoutMs: 5000 });
    assert.match(follower.report().rejected?.reason ?? '', /evil\.example|trust domain/);
    assert.equal(follower.policy.current.version, good);
    const fixed = await applyNew();
    await eventually(() => assert.equal(follower.policy.current.version, fixed), { timeoutMs: 5000 });
    assert.equal(follower.report().rejected, null);
  });

  it('a partitioned site keeps its version, and catches up within seconds of the heal (figure logged)', async () => {
    // The origin is where the bootstrap race put it; cut off another site than the one applying (a).
    const origin = (await (await jetstreamManager(control)).streams.info(POLICY_STREAM)).cluster?.name;
    const cut = origin === 'c' ? 'b' : 'c';
    const follower = follow(cut, join(dir, 'partition.json'));
    const before = await applyNew();
    await eventually(() => assert.equal(follower.policy.current.version, before), { timeoutMs: 5000 });
    await fed.nats.partition(cut);
    const during = await applyNew();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(follower.policy.current.version, before);
    const healStarted = performance.now();
    await fed.nats.heal(cut);
    const healed = performance.now();
    await eventually(() => assert.equal(follower.policy.current.version, during), { timeoutMs: 20_000, intervalMs: 20 });
    console.log(`partitioned site caught up ${(performance.now() - healed).toFixed(0)} ms after heal() returned (${(healed - healStarted).toFixed(0)} ms in heal)`);
  });
});
