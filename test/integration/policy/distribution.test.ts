/**
 * The federation's policy distribution on a real 3-site NATS supercluster (2.9.10 here): one
 * origin stream, a mirror per site created at bootstrap, versions = stream sequences published
 * with compare-and-set (concurrent applies: one wins, the other gets POLICY_CONFLICT naming both
 * versions), invalid sets refused whole, rollback and history, and NATS permissions (agents read
 * only).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isStreamNotFound } from '../../../shared/catalog/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { POLICY_HISTORY, POLICY_STREAM, POLICY_SUBJECT, applyPolicy, policyHistory, policyMirrorName, readLatestPolicy, readPolicyVersion, rollbackPolicy } from '../../../shared/policy/distribution/index.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';
import { eventually } from '../../support/harness.js';
import { INVALID_SET, TD, policySet } from './policy-sets.js';

let fed: SecureFederation;
let controlA: NatsConnection;
let controlB: NatsConnection;
const by = (site: string): { site: string; who: string } => ({ site, who: 'test' });

describe('policy distribution', () => {
  before(async () => {
    fed = await startSecureFederation(['a', 'b', 'c']);
    controlA = await fed.connectControl('a');
    controlB = await fed.connectControl('b');
  });
  after(async () => {
    await controlA.close();
    await controlB.close();
  });

  it('bootstrap made one origin (in one site, keeping 1 000 versions) and a mirror in each site', async () => {
    const jsm = await jetstreamManager(controlA);
    const origin = await jsm.streams.info(POLICY_STREAM);
    assert.ok(['a', 'b', 'c'].includes(origin.cluster?.name ?? ''), origin.cluster?.name);
    assert.deepEqual(origin.config.subjects, [POLICY_SUBJECT]);
    assert.equal(origin.config.max_msgs, POLICY_HISTORY);
    for (const site of ['a', 'b', 'c']) {
      const mirror = await jsm.streams.info(policyMirrorName(site));
      assert.equal(mirror.cluster?.name, site);
      assert.equal(mirror.config.mirror?.name, POLICY_STREAM);
    }
    assert.equal(await readLatestPolicy(controlA), null);
    // A missing stream is an error, never "no policy published".
    await assert.rejects(readLatestPolicy(controlA, { stream: policyMirrorName('nowhere') }), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_UNAVAILABLE') && isStreamNotFound(error));
  });

  it('an apply publishes version 1, the same set again is unchanged, a new set is version 2 based on 1', async () => {
    const first = await applyPolicy(controlA, { sources: policySet(1), trustDomain: TD, appliedBy: by('a') });
    assert.equal(first.outcome, 'applied');
    assert.equal(first.record.version, 1);
    assert.equal(first.record.basedOn, null);
    const again = await applyPolicy(controlB, { sources: policySet(1), trustDomain: TD, appliedBy: by('b') });
    assert.deepEqual([again.outcome, again.record.version], ['unchanged', 1]);
    const second = await applyPolicy(controlB, { sources: policySet(2), trustDomain: TD, appliedBy: by('b') });
    assert.deepEqual([second.outcome, second.record.version, second.record.basedOn], ['applied', 2, 1]);
    const latest = await readLatestPolicy(controlA);
    assert.equal(latest?.version, 2);
    assert.deepEqual(latest.appliedBy, { site: 'b', who: 'test' });
    assert.deepEqual(latest.sources, policySet(2));
  });

  it('two concurrent applies from two sites: one wins, the other gets POLICY_CONFLICT naming the version it saw and the latest', async () => {
    const base = (await readLatestPolicy(controlA))?.version ?? null;
    const results = await Promise.allSettled([
      applyPolicy(controlA, { sources: policySet(3), trustDomain: TD, appliedBy: by('a'), expectedVersion: base }),
      applyPolicy(controlB, { sources: policySet(4), trustDomain: TD, appliedBy: by('b'), expectedVersion: base }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1, JSON.stringify(results));
    assert.equal(lost.length, 1);
    const error = lost[0]?.reason as unknown;
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_POLICY_CONFLICT'), String(error));
    assert.equal(error.statusCode, 409);
    assert.match(error.message, new RegExp(`based on version ${base}, but the latest version is now ${(base ?? 0) + 1}`));
    assert.equal((await readLatestPolicy(controlA))?.version, (base ?? 0) + 1);
  });

  it('a stale --expect-version is a conflict and publishes nothing', async () => {
    const latest = (await readLatestPolicy(controlA))?.version;
    await assert.rejects(applyPolicy(controlB, { sources: policySet(5), trustDomain: TD, appliedBy: by('b'), expectedVersion: 1 }), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_POLICY_CONFLICT'));
      assert.match(error.message, new RegExp(`based on version 1, but the latest version is now ${latest}`));
      return true;
    });
    assert.equal((await readLatestPolicy(controlA))?.version, latest);
  });

  it('an invalid set is refused whole with every violation, and the latest version is unchanged', async () => {
    const before = await readLatestPolicy(controlA);
    await assert.rejects(applyPolicy(controlA, { sources: INVALID_SET, trustDomain: TD, appliedBy: by('a') }), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID'));
      assert.ok(((error.details?.violations ?? []) as unknown[]).length >= 2, error.message);
      return true;
    });
    assert.deepEqual(await readLatestPolicy(controlA), before);
  });

  it('rollback re-applies an old version as a new one (rollbackOf), and history lists every version in order', async () => {
    const before = (await readLatestPolicy(controlA))?.version ?? 0;
    const rolled = await rollbackPolicy(controlB, { version: 1, trustDomain: TD, appliedBy: by('b') });
    assert.deepEqual([rolled.outcome, rolled.record.version, rolled.record.rollbackOf, rolled.record.basedOn], ['applied', before + 1, 1, before]);
    assert.equal(rolled.record.digest, (await readPolicyVersion(controlA, 1)).digest);
    const history = await policyHistory(controlA);
    assert.deepEqual(history.map((r) => r.version), Array.from({ length: before + 1 }, (_, i) => i + 1));
    assert.equal(history.at(-1)?.rollbackOf, 1);
    await assert.rejects(readPolicyVersion(controlA, 999), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_NOT_FOUND') && /policy version 999/.test(error.message));
  });

  it('every site mirror holds the latest version with the origin sequence as version', async () => {
    const latest = await readLatestPolicy(controlA);
    for (const site of ['a', 'b', 'c']) {
      const mirrored = await eventually(async () => {
        const record = await readLatestPolicy(controlA, { stream: policyMirrorName(site) });
        assert.equal(record?.version, latest?.version);
        return record;
      }, { timeoutMs: 15_000 });
      assert.equal(mirrored?.digest, latest?.digest);
    }
  });

  it('NATS permissions: an agent of the site cannot publish a version, nor create, update or delete the policy streams', async () => {
    const agent = await fed.connectAgent('a', 'node-perm');
    const latest = (await readLatestPolicy(controlA))?.version;
    await assert.rejects(jetstream(agent, { timeout: 2000 }).publish(POLICY_SUBJECT, 'forged'));
    const jsm = await jetstreamManager(agent, { checkAPI: false, timeout: 2000 });
    await assert.rejects(jsm.streams.delete(POLICY_STREAM));
    await assert.rejects(jsm.streams.delete(policyMirrorName('a')));
    await assert.rejects(jsm.streams.update(POLICY_STREAM, { max_msgs: 1 }));
    await assert.rejects(jsm.streams.add({ name: 'MERIDIAN_POLICY_x', subjects: ['meridian.policy.>'] }));
    // It may read: the latest version is the same, and the streams are untouched.
    assert.equal((await readLatestPolicy(agent, { stream: policyMirrorName('a') }))?.version, latest);
    const origin = await jetstreamManager(controlA).then((m) => m.streams.info(POLICY_STREAM));
    assert.equal(origin.config.max_msgs, POLICY_HISTORY);
    assert.equal(origin.state.last_seq, latest);
    await agent.close();
  });
});
