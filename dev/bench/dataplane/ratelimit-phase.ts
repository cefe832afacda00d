import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { median } from '../measure.js';
import type { BenchRow } from '../types.js';
import type { LoadResult } from './load-types.js';
import { BATCH_SERVICES, BENCH_BATCH, CROSS_SITE_SERVICE, SAME_SITE_SERVICE, type BenchMesh } from './mesh.js';
import { probe } from './mesh-ready.js';
import type { BenchPath, PathKey } from './paths.js';
import type { RunRecord } from './rows.js';

/** The rate of the rate-limit phase: the data-plane case's target rate. */
export const LIMIT_RATE = 1000;
const LIMIT_ROUNDS = 2;
/** The global limit of every destination: far above the offered rate, so every request pays the check and none is refused. */
const LIMIT = 1_000_000;

/** How requests reach Redis: 'none' is the phase's own direct runs. */
type Mode = 'none' | 'script' | 'batch';

/** One run of the phase and the Redis calls it made (warm-up and measured phase). */
interface LimitRun {
  readonly mode: Mode;
  readonly record: RunRecord;
  readonly redisCalls: number;
}

/** What the rate-limit phase measured. */
export interface RateLimitPhase {
  readonly runs: readonly LimitRun[];
  readonly version: number;
  /** Requests the generator sends per run (warm-up and measured phase), what Redis calls are counted against. */
  readonly requestsPerRun: number;
}

/** The federation's Redis as the bench reaches it (the agents' `rateLimits.redis` settings). */
export interface BenchRedis {
  readonly url: string;
  readonly passwordFile: string;
  readonly caFile: string;
}

/** Every destination of the bench under one global limit that nothing reaches. */
function limitPolicy(): { file: string; text: string }[] {
  const services = [SAME_SITE_SERVICE, CROSS_SITE_SERVICE, BATCH_SERVICES.sameSite, BATCH_SERVICES.crossSite];
  const docs = services.map((service) => `kind: RateLimit\nmetadata: {name: ${service}-global}\nspec:\n  service: ${service}\n  global: {rate: ${LIMIT}, per: 1s, burst: ${LIMIT}, onRedisLoss: closed}\n`);
  return [{ file: 'limits.yaml', text: ['kind: PolicyDefaults\nmetadata: {name: defaults}\nspec: {defaultAction: allow}\n', ...docs].join('---\n') }];
}

/** Script calls Redis has answered so far (EVALSHA, and EVAL when a script was not cached yet). */
async function scriptCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gmu)) calls += Number(match[1]);
  return calls;
}

/** The phase's paths: direct, and each mesh path to the script and the batch destinations. */
function limitPaths(paths: readonly BenchPath[], mesh: BenchMesh): { mode: Mode; path: BenchPath }[] {
  const pick = (key: PathKey): BenchPath => paths.find((p) => p.key === key) ?? ((): never => { throw new Error(`no ${key} path`); })();
  const sameSite = pick('same-site');
  const crossSite = pick('cross-site');
  const swapLast = (path: BenchPath, role: string, process: BenchMesh['batchAgents']['sameSite']) => [...path.processes.slice(0, -1), { role, process }];
  const batch = (path: BenchPath, service: string, role: string, process: BenchMesh['batchAgents']['sameSite']): BenchPath =>
    ({ ...path, label: `${path.label} (batch limit)`, target: { ...path.target, host: `${service}.mesh` }, processes: swapLast(path, role, process) });
  return [
    { mode: 'none', path: pick('direct') },
    { mode: 'script', path: { ...sameSite, label: `${sameSite.label} (script limit)` } },
    { mode: 'script', path: { ...crossSite, label: `${crossSite.label} (script limit)` } },
    { mode: 'batch', path: batch(sameSite, BATCH_SERVICES.sameSite, 'agent a-3 (destination, batch)', mesh.batchAgents.sameSite) },
    { mode: 'batch', path: batch(crossSite, BATCH_SERVICES.crossSite, 'agent b-2 (destination, batch)', mesh.batchAgents.crossSite) },
  ];
}

/**
 * Puts every destination under a global rate limit (Redis over TLS with a password; far above
 * the offered rate), checks each path answers 200, then measures direct and both mesh paths to
 * the script agents (a-2, b-1) and to the batch agents (a-3, b-2) at {@link LIMIT_RATE} rps,
 * the order rotated each round, counting the Redis script calls of each run.
 */
export async function rateLimitPhase(options: {
  mesh: BenchMesh;
  paths: readonly BenchPath[];
  redis: BenchRedis;
  requestsPerRun: number;
  run: (path: BenchPath, rate: number, round: number) => Promise<RunRecord>;
}): Promise<RateLimitPhase> {
  const version = await options.mesh.applyPolicy(limitPolicy());
  const measured = limitPaths(options.paths, options.mesh);
  for (const { path } of measured.slice(1)) {
    const answer = await probe(path.target.port, path.target.host);
    if (answer.status !== 200) throw new Error(`${path.target.host} under rate-limit policy version ${version}: ${answer.status} ${answer.body}`);
  }
  const redis = new Redis(options.redis.url, { password: readFileSync(options.redis.passwordFile, 'utf8').trim(), tls: { ca: readFileSync(options.redis.caFile, 'utf8') }, maxRetriesPerRequest: 1 });
  try {
    const runs: LimitRun[] = [];
    for (let round = 0; round < LIMIT_ROUNDS; round++) {
      for (let i = 0; i < measured.length; i++) {
        const entry = measured[(i + round) % measured.length];
        if (entry === undefined) continue;
        const before = await scriptCalls(redis);
        const record = await options.run(entry.path, LIMIT_RATE, round);
        runs.push({ mode: entry.mode, record, redisCalls: (await scriptCalls(redis)) - before });
      }
    }
    return { runs, version, requestsPerRun: options.requestsPerRun };
  } finally {
    redis.disconnect();
  }
}

function q(runs: readonly RunRecord[], key: PathKey, pick: (r: LoadResult) => number): number {
  return median(runs.filter((r) => r.path === key && r.rate === LIMIT_RATE).map((r) => pick(r.result)));
}

/** One mode's rows for one path and quantile: latency and added latency per hop, the no-limit rounds as baseline. */
function modeRows(options: { caseName: string; path: BenchPath; quantile: 'p50' | 'p99'; mode: 'script' | 'batch'; plain: readonly RunRecord[]; phase: RateLimitPhase; context: string }): BenchRow[] {
  const { path, quantile, mode, phase, plain } = options;
  const pick = (r: LoadResult): number => r.latency[quantile];
  const direct = phase.runs.filter((r) => r.mode === 'none').map((r) => r.record);
  const own = phase.runs.filter((r) => r.mode === mode && r.record.path === path.key);
  const runs = own.map((r) => r.record);
  const value = q(runs, path.key, pick);
  const base = q(plain, path.key, pick);
  const perHop = (value - q(direct, 'direct', pick)) / path.hops;
  const basePerHop = (base - q(plain, 'direct', pick)) / path.hops;
  const perRound = runs.map((r) => {
    const d = direct.find((x) => x.round === r.round);
    return d === undefined ? NaN : (r.result.latency[quantile] - d.result.latency[quantile]) / path.hops;
  });
  const errors = runs.reduce((sum, r) => sum + r.result.errors + r.result.non2xx, 0);
  const callsPerRequest = median(own.map((r) => r.redisCalls / phase.requestsPerRun));
  const how = mode === 'script' ? 'one Redis script call per request' : `tokens taken ${BENCH_BATCH} at a time`;
  const note =
    `policy version ${phase.version}: a global RateLimit (${LIMIT}/s, onRedisLoss closed) on the destination, ${how}; Redis over TLS 1.3 with a password, a redis-server the bench started; ` +
    `Redis script calls per request ${callsPerRequest.toFixed(3)}; ${runs.length} rounds after the realistic-policy phase, ${runs.reduce((s, r) => s + r.result.ok, 0)} 2xx, ${errors} errors or non-2xx (429s included); ` +
    `limit added per hop = ${(perHop - basePerHop).toFixed(3)} ms (${quantile}); per hop with the limit, per round: ${perRound.map((v) => v.toFixed(2)).join(' / ')} ms; baseline = this case's no-policy rounds at ${LIMIT_RATE} rps (earlier in the run: drift counts as limit cost); ${options.context}`;
  const common = { case: options.caseName, unit: 'ms', note };
  const label = `global limit (${mode})`;
  return [
    { ...common, metric: `${path.label} ${quantile} @${LIMIT_RATE} rps, ${label}`, value, baseline: `${path.label}, no limit`, baselineValue: base, ratio: value / base },
    { ...common, metric: `${path.label} added per hop ${quantile} @${LIMIT_RATE} rps, ${label}`, value: perHop, baseline: `${path.label} added per hop, no limit`, baselineValue: basePerHop, ratio: perHop / basePerHop },
  ];
}

/**
 * Rows of the rate-limit phase beside the same case's no-limit rounds: each mesh path's latency
 * at {@link LIMIT_RATE} rps and its added latency per hop, with a global limit in script mode
 * and in batch mode.
 */
export function rateLimitRows(options: { caseName: string; paths: readonly BenchPath[]; plain: readonly RunRecord[]; phase: RateLimitPhase; context: string }): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const mode of ['script', 'batch'] as const) {
    for (const path of options.paths.filter((p) => p.key === 'same-site' || p.key === 'cross-site')) {
      for (const quantile of ['p50', 'p99'] as const) rows.push(...modeRows({ ...options, path, quantile, mode }));
    }
  }
  return rows;
}
