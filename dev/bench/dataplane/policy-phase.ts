import { median } from '../measure.js';
import { BENCH_TRUST_DOMAIN, realisticPolicy } from '../policy/realistic.js';
import type { BenchRow } from '../types.js';
import type { LoadResult } from './load-types.js';
import { CROSS_SITE_SERVICE, SAME_SITE_SERVICE, type BenchMesh } from './mesh.js';
import { probe } from './mesh-ready.js';
import type { BenchPath, PathKey } from './paths.js';
import type { RunRecord } from './rows.js';

/** The rate of the policy phase: the data-plane case's target rate. */
export const POLICY_RATE = 1000;
const POLICY_ROUNDS = 2;
const KEYS: readonly PathKey[] = ['direct', 'same-site', 'cross-site'];

/** What the policy phase measured and under which policy. */
export interface PolicyPhase {
  readonly runs: readonly RunRecord[];
  readonly version: number;
  readonly rules: string;
}

/**
 * Enforces a realistic policy set on the mesh (every agent and gateway; the destinations decide
 * every request on it, the gateways check revocations), checks both mesh paths still answer 200,
 * then measures direct, same-site and cross-site at {@link POLICY_RATE} rps, the order rotated
 * each round. Runs after the no-policy rounds: a federation cannot go back to "no policy".
 */
export async function policyPhase(options: { mesh: BenchMesh; paths: readonly BenchPath[]; run: (path: BenchPath, rate: number, round: number) => Promise<RunRecord> }): Promise<PolicyPhase> {
  const sources = realisticPolicy({ destinations: [SAME_SITE_SERVICE, CROSS_SITE_SERVICE], callers: [`spiffe://${BENCH_TRUST_DOMAIN}/site/a/svc/bench-client`] });
  const version = await options.mesh.applyPolicy(sources);
  for (const service of [SAME_SITE_SERVICE, CROSS_SITE_SERVICE]) {
    const answer = await probe(options.mesh.outboundPort, `${service}.mesh`);
    if (answer.status !== 200) throw new Error(`${service}.mesh under policy version ${version}: ${answer.status} ${answer.body}`);
  }
  const measured = options.paths.filter((p) => KEYS.includes(p.key));
  const runs: RunRecord[] = [];
  for (let round = 0; round < POLICY_ROUNDS; round++) {
    for (let i = 0; i < measured.length; i++) {
      const path = measured[(i + round) % measured.length];
      if (path !== undefined) runs.push(await options.run(path, POLICY_RATE, round));
    }
  }
  return { runs, version, rules: 'default deny; 2 destinations and 10 other services, each an allow document (4 rules: methods, path prefix/exact, present/exact headers) and a deny document (2 rules, one matching the caller by source and evaluated on its header), a federation-wide deny: 53 rules; 5 revocations (2 identities, 3 serials)' };
}

function q(runs: readonly RunRecord[], key: PathKey, pick: (r: LoadResult) => number): number {
  return median(runs.filter((r) => r.path === key && r.rate === POLICY_RATE).map((r) => pick(r.result)));
}

/**
 * Rows of the policy phase beside the same case's no-policy rounds: each mesh path's latency at
 * {@link POLICY_RATE} rps, and its added latency per hop ((path - direct) / hops, direct measured
 * in the same phase), with the no-policy figure as the baseline.
 */
export function policyRows(options: { caseName: string; paths: readonly BenchPath[]; plain: readonly RunRecord[]; phase: PolicyPhase; context: string }): BenchRow[] {
  const { phase, plain } = options;
  const rows: BenchRow[] = [];
  for (const path of options.paths.filter((p) => p.key === 'same-site' || p.key === 'cross-site')) {
    for (const quantile of ['p50', 'p99'] as const) {
      const pick = (r: LoadResult): number => r.latency[quantile];
      const value = q(phase.runs, path.key, pick);
      const base = q(plain, path.key, pick);
      const perHop = (value - q(phase.runs, 'direct', pick)) / path.hops;
      const basePerHop = (base - q(plain, 'direct', pick)) / path.hops;
      const runs = phase.runs.filter((r) => r.path === path.key);
      const perRound = runs.map((r) => {
        const direct = phase.runs.find((d) => d.path === 'direct' && d.round === r.round);
        return direct === undefined ? NaN : (r.result.latency[quantile] - direct.result.latency[quantile]) / path.hops;
      });
      const errors = runs.reduce((sum, r) => sum + r.result.errors + r.result.non2xx, 0);
      const note =
        `policy version ${phase.version} enforced by every agent and gateway (${phase.rules}); ${runs.length} rounds after the no-policy rounds and saturation, ${runs.reduce((s, r) => s + r.result.ok, 0)} 2xx, ${errors} errors or non-2xx; ` +
        `policy added per hop = ${(perHop - basePerHop).toFixed(3)} ms (${quantile}); per hop with policy, per round: ${perRound.map((v) => v.toFixed(2)).join(' / ')} ms; baseline = this case's no-policy rounds at ${POLICY_RATE} rps (earlier in the run: drift counts as policy cost); ${options.context}`;
      const common = { case: options.caseName, unit: 'ms', note };
      rows.push({ ...common, metric: `${path.label} ${quantile} @${POLICY_RATE} rps, realistic policy`, value, baseline: `${path.label}, no policy`, baselineValue: base, ratio: value / base });
      rows.push({ ...common, metric: `${path.label} added per hop ${quantile} @${POLICY_RATE} rps, realistic policy`, value: perHop, baseline: `${path.label} added per hop, no policy`, baselineValue: basePerHop, ratio: perHop / basePerHop, target: 'unchanged within noise' });
    }
  }
  return rows;
}
