import type { NatsConnection } from '@nats-io/transport-node';
import { applyPolicy, encodePolicyRecord, readLatestPolicy, withRevocation } from '../../../shared/policy/distribution/index.js';
import { quantile } from '../measure.js';
import { RAW_BASELINE, emptySamples, rawSide, type Samples } from '../policy/raw.js';
import { BENCH_TRUST_DOMAIN, realisticPolicy } from '../policy/realistic.js';
import { startPolicyRig, type PolicyRig, type RigAgent } from '../policy/rig.js';
import type { BenchCase, BenchRow } from '../types.js';

const CASE = 'policy.revoke';
const SITES = ['a', 'b', 'c'];
const ROUNDS = 20;
const WARMUP = 3;
const STEP_TIMEOUT_MS = 10_000;
const WARMUP_TIMEOUT_MS = 20_000;
/** Bound on the measured phase: rounds starting after it are skipped (the rows say how many counted). */
const MEASURE_BUDGET_MS = 90_000;
/** A certificate of the revoked identity as the inbound would see it (serial and expiry do not matter for an identity entry). */
const LEAF_NOT_AFTER = Date.now() + 3_600_000;

/** Resolves with when the last agent enforced a version that revokes `uri`; each agent's own data-plane listener ran before (registered first). */
function untilRevoked(agents: readonly RigAgent[], uri: string, timeoutMs: number): Promise<number | undefined> {
  const leaf = { uri, serial: '01', notAfter: LEAF_NOT_AFTER };
  const revoked = (a: RigAgent): boolean => a.agent.policy.current.revocations.isRevoked(leaf);
  return new Promise((resolve) => {
    const stops: (() => void)[] = [];
    const finish = (at: number | undefined): void => {
      clearTimeout(timer);
      for (const stop of stops) stop();
      resolve(at);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    for (const a of agents) stops.push(a.agent.policy.onChange(() => (agents.every(revoked) ? finish(performance.now()) : undefined)));
  });
}

/** `meridian revoke --identity uri` as the CLI does it (read the latest set, add the entry, apply based on it), timed until every site's agent refuses it. */
async function revokeOnce(rig: PolicyRig, nc: NatsConnection, index: number, samples: Samples | undefined, timeoutMs: number): Promise<void> {
  const uri = `spiffe://${BENCH_TRUST_DOMAIN}/site/a/svc/revoked-${index}`;
  const arrived = untilRevoked(rig.agents, uri, timeoutMs);
  const started = performance.now();
  const latest = await readLatestPolicy(nc);
  const sources = withRevocation(latest?.sources ?? [], { identity: uri, notAfter: new Date(Date.now() + 86_400_000).toISOString(), reason: 'bench' }, new Date());
  await applyPolicy(nc, { sources, trustDomain: BENCH_TRUST_DOMAIN, appliedBy: { site: 'a', who: 'bench' }, expectedVersion: latest?.version ?? null });
  const acked = performance.now() - started;
  const at = await arrived;
  if (samples === undefined) {
    if (at === undefined) throw new Error(`warm-up revocation of ${uri} not enforced everywhere within ${timeoutMs} ms`);
    return;
  }
  if (at === undefined) samples.timeouts++;
  else {
    samples.all.push(at - started);
    samples.acked.push(acked);
  }
}

async function measure(rig: PolicyRig): Promise<{ meridian: Samples; raw: Samples }> {
  const control = await rig.fed.connectControl('a');
  const readers = await Promise.all(SITES.map((site) => rig.fed.connectControl(site)));
  const base = realisticPolicy({ destinations: ['bench-echo'], callers: [`spiffe://${BENCH_TRUST_DOMAIN}/site/a/svc/bench-client`] });
  const first = await applyPolicy(control, { sources: base, trustDomain: BENCH_TRUST_DOMAIN, appliedBy: { site: 'a', who: 'bench' } });
  await rig.untilEnforced(first.record.version, WARMUP_TIMEOUT_MS);
  const payload = encodePolicyRecord(first.record);
  const raw = await rawSide(control, readers, payload);
  const results = { meridian: emptySamples(), raw: emptySamples() };
  try {
    for (let i = 0; i < WARMUP; i++) {
      await revokeOnce(rig, control, -1 - i, undefined, WARMUP_TIMEOUT_MS);
      await raw.once(undefined, WARMUP_TIMEOUT_MS);
    }
    const start = performance.now();
    for (let i = 0; i < ROUNDS && performance.now() - start < MEASURE_BUDGET_MS; i++) {
      await revokeOnce(rig, control, i, results.meridian, STEP_TIMEOUT_MS);
      await raw.once(results.raw, STEP_TIMEOUT_MS);
    }
    return results;
  } finally {
    raw.close();
  }
}

function rows(results: { meridian: Samples; raw: Samples }): BenchRow[] {
  const { meridian, raw } = results;
  const note =
    `${meridian.all.length}/${ROUNDS} revocations enforced at every site, ${meridian.timeouts} not within ${STEP_TIMEOUT_MS} ms; raw ${raw.all.length} messages, ${raw.timeouts} timeouts; after ${WARMUP} warm-ups; ` +
    `what 'meridian revoke --identity' does (read the latest set at the origin, add an identity entry to its Revocation document, apply based on that version) at site a, on top of the realistic set (~50 rules), ` +
    `timed until the agent of each of sites ${SITES.join(', ')} (data plane on, in this process with the control services) enforces a version that revokes it: from then its inbound refuses the identity's handshakes, and its own policy listener (registered before the bench's) has destroyed the identity's open connections; ` +
    'revocations accumulate over the rounds; one process, 2-core shared machine, loopback';
  const row = (q: number, target: string): BenchRow => {
    const value = quantile(meridian.all, q);
    const base = quantile(raw.all, q);
    return { case: CASE, metric: `revoke -> every site's agent refusing p${q * 100}`, value, unit: 'ms', baseline: RAW_BASELINE, baselineValue: base, ratio: value / base, target, note };
  };
  return [row(0.5, ''), row(0.99, 'p99 <= 5000'), { case: CASE, metric: 'revoke applied (origin acked) p50', value: quantile(meridian.acked, 0.5), unit: 'ms', note }];
}

export const policyRevoke: BenchCase = {
  name: CASE,
  description: '3-site federation: an identity revoked at site A (as meridian revoke does) until every site\'s agent refuses it, vs raw NATS publish at A -> subscribers at the 3 sites',
  async run(): Promise<BenchRow[]> {
    const rig = await startPolicyRig({ sites: SITES, agentsPerSite: 1, dataPlane: true });
    try {
      return rows(await measure(rig));
    } finally {
      await rig.stop();
    }
  },
};
