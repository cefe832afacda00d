import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { POLICY_STREAM, applyPolicy, encodePolicyRecord } from '../../../shared/policy/distribution/index.js';
import { enforcedPolicy, parsePolicySet } from '../../../shared/policy/index.js';
import { median, quantile } from '../measure.js';
import { BENCH_TRUST_DOMAIN, realisticPolicy } from '../policy/realistic.js';
import { RAW_BASELINE as BASELINE, emptySamples as empty, rawSide, type Samples } from '../policy/raw.js';
import { startPolicyRig, type PolicyRig } from '../policy/rig.js';
import type { BenchCase, BenchRow } from '../types.js';

const CASE = 'policy.apply';
const SITES = ['a', 'b', 'c'];
const AGENTS_PER_SITE = 1;
const WARMUP = 5;
/** Interleaved blocks: an apply block, then a raw block, so both see the same background. */
const BLOCKS = 5;
const PER_BLOCK = 12;
const STEP_TIMEOUT_MS = 5_000;
/** The first cross-site deliveries wait for NATS interest to propagate (~1 s); warm-up gets longer. */
const WARMUP_TIMEOUT_MS = 20_000;
/** Bound on the measured phase: a block starting after it is skipped (the rows say how many counted). */
const MEASURE_BUDGET_MS = 90_000;
const PAUSE_MS = 20;

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, PAUSE_MS));

/** Applies generation `generation` of the realistic set at site A and times it until every agent of every site enforces it. */
async function applyOnce(rig: PolicyRig, nc: NatsConnection, generation: number, samples: Samples | undefined, timeoutMs: number): Promise<void> {
  const sources = realisticPolicy({ destinations: ['bench-echo'], callers: [`spiffe://${BENCH_TRUST_DOMAIN}/site/a/svc/bench-client`], generation });
  const started = performance.now();
  const result = await applyPolicy(nc, { sources, trustDomain: BENCH_TRUST_DOMAIN, appliedBy: { site: 'a', who: 'bench' } });
  const acked = performance.now() - started;
  const version = result.record.version;
  try {
    await rig.untilEnforced(version, timeoutMs);
  } catch (error) {
    if (samples === undefined) throw error;
    samples.timeouts++;
    samples.errors.push((error as Error).message);
    return;
  }
  const last = Math.max(...rig.agents.map((a) => a.enforcedAt.get(version) ?? NaN));
  samples?.all.push(last - started);
  samples?.acked.push(acked);
}

async function originCluster(nc: NatsConnection): Promise<string> {
  const info = await (await jetstreamManager(nc, { checkAPI: false })).streams.info(POLICY_STREAM).catch(() => undefined);
  return info?.cluster?.name ?? 'unknown';
}

async function measure(rig: PolicyRig): Promise<{ meridian: Samples; raw: Samples; origin: string; recordBytes: number }> {
  const control = await rig.fed.connectControl('a');
  const readers = await Promise.all(SITES.map((site) => rig.fed.connectControl(site)));
  const sample = realisticPolicy({ destinations: ['bench-echo'], callers: [`spiffe://${BENCH_TRUST_DOMAIN}/site/a/svc/bench-client`], generation: 0 });
  const payload = encodePolicyRecord({ digest: 'x'.repeat(64), sources: sample, appliedAt: new Date().toISOString(), appliedBy: { site: 'a', who: 'bench' }, basedOn: 1 });
  const raw = await rawSide(control, readers, payload);
  const results = { meridian: empty(), raw: empty() };
  let generation = 0;
  try {
    for (let i = 0; i < WARMUP; i++) {
      await applyOnce(rig, control, ++generation, undefined, WARMUP_TIMEOUT_MS);
      await raw.once(undefined, WARMUP_TIMEOUT_MS);
    }
    const start = performance.now();
    for (let block = 0; block < BLOCKS && performance.now() - start < MEASURE_BUDGET_MS; block++) {
      for (let i = 0; i < PER_BLOCK; i++) await applyOnce(rig, control, ++generation, results.meridian, STEP_TIMEOUT_MS).then(pause);
      for (let i = 0; i < PER_BLOCK; i++) await raw.once(results.raw, STEP_TIMEOUT_MS).then(pause);
    }
    return { ...results, origin: await originCluster(control), recordBytes: payload.length };
  } finally {
    raw.close();
  }
}

/** ms to parse and compile the set once (each follower does it per version; this process runs 3 agents and 3 control services). */
function compileMs(): number {
  const sources = realisticPolicy({ destinations: ['bench-echo'], callers: [`spiffe://${BENCH_TRUST_DOMAIN}/site/a/svc/bench-client`], generation: 1 });
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    enforcedPolicy(parsePolicySet(sources, { trustDomain: BENCH_TRUST_DOMAIN }), i + 1);
    times.push(performance.now() - started);
  }
  return median(times);
}

function rows(result: { meridian: Samples; raw: Samples; origin: string; recordBytes: number }, readySeconds: number): BenchRow[] {
  const { meridian, raw } = result;
  const note =
    `${meridian.all.length} applies, ${meridian.timeouts} not enforced everywhere within ${STEP_TIMEOUT_MS} ms${meridian.errors.length > 0 ? ` (${meridian.errors.slice(0, 2).join('; ')})` : ''}; raw ${raw.all.length} messages, ${raw.timeouts} timeouts; ` +
    `${BLOCKS} interleaved blocks of ${PER_BLOCK} after ${WARMUP} warm-ups each; applyPolicy from site a's control user (realistic set, ~50 rules, each apply changes one revocation serial) until every agent of sites ${SITES.join(', ')} (${AGENTS_PER_SITE} per site, in this process with the control services) fired policy.onChange with that version; ` +
    `origin stream in cluster ${result.origin}, each site's agents follow their site's mirror; raw payload ${result.recordBytes} bytes (the size of a policy record); parse + compile of the set ${compileMs().toFixed(1)} ms (median, done by apply and by each of the 6 followers in this one process); supercluster ready in ${readySeconds.toFixed(1)} s; one process, 2-core shared machine, loopback`;
  const row = (q: number, target: string): BenchRow => {
    const value = quantile(meridian.all, q);
    const base = quantile(raw.all, q);
    return { case: CASE, metric: `apply -> every agent of 3 sites enforcing p${q * 100}`, value, unit: 'ms', baseline: BASELINE, baselineValue: base, ratio: value / base, target, note };
  };
  return [
    row(0.5, ''),
    row(0.99, 'p99 <= 1000 (goal 100)'),
    { case: CASE, metric: 'applyPolicy answered (origin acked) p50', value: quantile(meridian.acked, 0.5), unit: 'ms', note },
    { case: CASE, metric: 'applyPolicy answered (origin acked) p99', value: quantile(meridian.acked, 0.99), unit: 'ms', note },
  ];
}

export const policyApply: BenchCase = {
  name: CASE,
  description: '3-site federation: applyPolicy at site A until every agent of the 3 sites enforces that version, vs raw NATS publish at A -> subscribers at the 3 sites',
  async run(): Promise<BenchRow[]> {
    const rig = await startPolicyRig({ sites: SITES, agentsPerSite: AGENTS_PER_SITE });
    try {
      return rows(await measure(rig), rig.fed.readySeconds);
    } finally {
      await rig.stop();
    }
  },
};
