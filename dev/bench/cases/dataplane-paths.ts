/**
 * The data-plane benchmark: the same 64-byte GET over four paths, side by side in one run.
 *
 *   direct       client -> app (the physical limit)
 *   same-site    client -> agent a-1 outbound (Host echo-a.mesh) -> nested mTLS -> agent a-2 inbound -> app   (2 proxies)
 *   cross-site   client -> agent a-1 -> gateway a -> gateway b -> agent b-1 -> app                          (4 proxies)
 *   nginx pair   client -> nginx #1 (plain HTTP, proxy_pass https + client cert) -> nginx #2 (TLS 1.3, ssl_verify_client on) -> app   (2 proxies)
 *
 * Agents and gateways are `meridian agent|gateway run` processes, the app (node:http) and the
 * load generator are child processes of their own; NATS and the control services back the mesh.
 * Per round, every path at 500 and 1000 rps, open loop (latency from each request's due time);
 * then closed-loop saturation (wrk, else a Node closed loop); then a realistic policy set is
 * applied (~50 rules, a few revocations) and direct, same-site and cross-site run again at 1000 rps
 * beside the no-policy figures; then a global rate limit (nothing refused) on every destination,
 * measured at agents taking one Redis script call per request and at agents taking tokens in
 * batches (a redis-server the case starts, TLS 1.3 and a password). CPU per request and RSS come from
 * /proc. MERIDIAN_BENCH_CPU_PROF=<dir> runs agents and gateways with --cpu-prof; read the
 * profiles with dist/dev/bench/dataplane/profile-summary.js.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoadGenerator, type LoadGenerator } from '../dataplane/load.js';
import { CROSS_SITE_SERVICE, SAME_SITE_SERVICE, startBenchMesh, type BenchMesh } from '../dataplane/mesh.js';
import { startNginxPair, type NginxPair } from '../dataplane/nginx.js';
import { sampleProcesses, type BenchPath, type PathKey } from '../dataplane/paths.js';
import { rssMb, startProcess, type BenchProcess } from '../dataplane/processes.js';
import { policyPhase, policyRows } from '../dataplane/policy-phase.js';
import { LIMIT_RATE, rateLimitPhase, rateLimitRows, type BenchRedis } from '../dataplane/ratelimit-phase.js';
import { dataplaneRows, type RunRecord } from '../dataplane/rows.js';
import { saturator, type SaturationResult } from '../dataplane/saturation.js';
import type { BenchCase, BenchRow } from '../types.js';
import { redisTlsFiles, startRedisServer, type RedisServerHandle } from '../../../test/support/servers/index.js';

const CASE = 'dataplane';
const RATES = [500, 1000] as const;
const WARMUP_MS = 1_000;
const DURATION_MS = 5_000;
const DRAIN_MS = 2_000;
const MAX_SOCKETS = 64;
const MIN_ROUNDS = 2;
const MAX_ROUNDS = 3;
/** No fixed-rate round starts after this much of the case, nor a second saturation pass: the case stays near 4 minutes. */
const ROUND_BUDGET_MS = 140_000;
const SATURATION_BUDGET_MS = 200_000;
const APP = fileURLToPath(new URL('../dataplane/app-child.js', import.meta.url));

/** Everything the case started; each part is stopped in finally, by PID. */
interface Rig {
  redis?: RedisServerHandle;
  app?: BenchProcess;
  mesh?: BenchMesh;
  nginx?: NginxPair;
  load?: LoadGenerator;
}

async function startApp(rig: Rig): Promise<number> {
  const { process, match } = await startProcess({ name: 'app', command: globalThis.process.execPath, args: [APP], ready: /APP PORT (\d+)/, timeoutMs: 10_000 });
  rig.app = process;
  return Number(match[1]);
}

/** Node flags for agents and gateways: MERIDIAN_BENCH_CPU_PROF=<dir> writes a --cpu-prof profile per process on stop. */
function profileFlags(): string[] {
  const dir = process.env.MERIDIAN_BENCH_CPU_PROF;
  if (dir === undefined || dir === '') return [];
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

function paths(appPort: number, mesh: BenchMesh, nginx: NginxPair): BenchPath[] {
  const caller = { role: 'agent a-1 (caller)', process: mesh.agents.caller };
  return [
    { key: 'direct', label: 'direct', hops: 0, target: { port: appPort, host: `127.0.0.1:${appPort}` }, processes: [] },
    { key: 'same-site', label: 'same-site mesh', hops: 2, target: { port: mesh.outboundPort, host: `${SAME_SITE_SERVICE}.mesh` }, processes: [caller, { role: 'agent a-2 (destination)', process: mesh.agents.sameSite }] },
    {
      key: 'cross-site',
      label: 'cross-site mesh',
      hops: 4,
      target: { port: mesh.outboundPort, host: `${CROSS_SITE_SERVICE}.mesh` },
      processes: [caller, { role: 'gateway a', process: mesh.gateways.a }, { role: 'gateway b', process: mesh.gateways.b }, { role: 'agent b-1 (destination)', process: mesh.agents.crossSite }],
    },
    { key: 'nginx', label: 'nginx mTLS pair', hops: 2, target: { port: nginx.port, host: 'localhost' }, processes: [{ role: 'nginx #1', process: nginx.front }, { role: 'nginx #2', process: nginx.back }] },
  ];
}

function idleMemory(all: readonly BenchPath[]): Map<string, number> {
  const idle = new Map<string, number>();
  for (const { role, process } of all.flatMap((p) => p.processes)) idle.set(role, rssMb(process.pid));
  return idle;
}

async function openLoopRun(load: LoadGenerator, run: { path: BenchPath; rate: number; round: number }, others: readonly number[]): Promise<RunRecord> {
  const { path, rate } = run;
  const sampler = sampleProcesses(path, others);
  const result = await load.run({ kind: 'open', target: path.target, rate, warmupMs: WARMUP_MS, durationMs: DURATION_MS, drainMs: DRAIN_MS, maxSockets: MAX_SOCKETS }, () => sampler.start());
  const { processes, machine } = sampler.finish(result.ok + result.non2xx);
  console.error(
    `bench: ${CASE}: ${path.label} @${rate} rps: p50 ${result.latency.p50.toFixed(2)} p99 ${result.latency.p99.toFixed(2)} ms, ${result.ok}/${result.sent} 2xx, ${result.non2xx} non-2xx, ${result.errors} errors; ` +
      `machine ${machine.busyCores.toFixed(2)} cores busy, ${machine.benchCores.toFixed(2)} ours${processes.length > 0 ? `; ${processes.map((p) => `${p.role} ${(p.cpuPer1000 * 1000).toFixed(0)} CPU ms/1000 ${p.rssMb.toFixed(0)} MB`).join(', ')}` : ''}`);
  return { path: path.key, rate, round: run.round, result, processes, machine };
}

/** Fixed-rate rounds: every path at every rate per round, the path order rotated each round so drift spreads over all of them. */
async function fixedRateRounds(load: LoadGenerator, all: readonly BenchPath[], options: { caseStart: number; others: readonly number[] }): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round >= MIN_ROUNDS && performance.now() - options.caseStart > ROUND_BUDGET_MS) break;
    const order = all.map((_, i) => all[(i + round) % all.length]).filter((p): p is BenchPath => p !== undefined);
    for (const rate of RATES) for (const path of order) runs.push(await openLoopRun(load, { path, rate, round }, options.others));
  }
  return runs;
}

async function saturationRuns(load: LoadGenerator, all: readonly BenchPath[], caseStart: number): Promise<{ tool: string; runs: { path: PathKey; result: SaturationResult }[] }> {
  const tool = saturator(load);
  const runs: { path: PathKey; result: SaturationResult }[] = [];
  for (let pass = 0; pass < 2; pass++) {
    if (pass > 0 && performance.now() - caseStart > SATURATION_BUDGET_MS) break;
    for (const path of all) {
      const result = await tool.run(path.target);
      console.error(`bench: ${CASE}: ${path.label} saturation: ${result.rps.toFixed(0)} rps, p50 ${result.p50.toFixed(2)} p99 ${result.p99.toFixed(2)} ms, ${result.failures} failures`);
      runs.push({ path: path.key, result });
    }
  }
  return { tool: tool.tool, runs };
}

/** The federation's Redis for the rate-limit phase: TLS 1.3 and a password, as production runs it; files in `dir`. */
async function startRedis(rig: Rig, dir: string): Promise<BenchRedis> {
  const tls = redisTlsFiles(dir);
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(dir, 'redis.password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  rig.redis = await startRedisServer({ tls, password });
  return { url: rig.redis.url, passwordFile, caFile: tls.caFile };
}

async function measure(rig: Rig, caseStart: number, dir: string): Promise<BenchRow[]> {
  const appPort = await startApp(rig);
  const redis = await startRedis(rig, dir);
  rig.mesh = await startBenchMesh({ appPort, redis, execArgv: profileFlags() });
  rig.nginx = await startNginxPair(appPort);
  rig.load = startLoadGenerator();
  const all = paths(appPort, rig.mesh, rig.nginx);
  console.error(`bench: ${CASE}: mesh ready in ${rig.mesh.readySeconds.toFixed(1)} s`);
  // Resident memory with no load yet: what the 1000 rps figures add to.
  const idleRss = idleMemory(all);
  const runs = await fixedRateRounds(rig.load, all, { caseStart, others: [rig.app?.pid ?? -1, rig.load.pid] });
  const saturation = await saturationRuns(rig.load, all, caseStart);
  const load = rig.load;
  const others = [rig.app?.pid ?? -1, load.pid];
  const run = (path: BenchPath, rate: number, round: number): Promise<RunRecord> => openLoopRun(load, { path, rate, round }, others);
  const policy = await policyPhase({ mesh: rig.mesh, paths: all, run });
  const limits = await rateLimitPhase({ mesh: rig.mesh, paths: all, redis, requestsPerRun: (LIMIT_RATE * (WARMUP_MS + DURATION_MS)) / 1000, run });
  const context =
    `open loop from a Node child (keep-alive agent, <= ${MAX_SOCKETS} sockets, latency from each request's due time), ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s per run; ` +
    `app: node:http, 64-byte body, own process; agents and gateways: meridian CLI processes (${process.env.MERIDIAN_BENCH_CPU_PROF ? 'with --cpu-prof, ' : ''}--max-semi-space-size=2); ${rig.nginx.summary}; 2-core shared machine, loopback`;
  return [
    ...dataplaneRows({ caseName: CASE, paths: all, rates: RATES, runs, saturation: saturation.runs, saturationTool: saturation.tool, idleRss, context }),
    ...policyRows({ caseName: CASE, paths: all, plain: runs, phase: policy, context }),
    ...rateLimitRows({ caseName: CASE, paths: all, plain: runs, phase: limits, context }),
  ];
}

export const dataplane: BenchCase = {
  name: CASE,
  description: 'request latency at 500/1000 rps (open loop), saturation, CPU and memory: direct vs same-site mesh vs cross-site mesh vs an nginx mTLS pair; then with a realistic policy set enforced; then with a global rate limit (script and batch)',
  async run(): Promise<BenchRow[]> {
    const caseStart = performance.now();
    const rig: Rig = {};
    const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-redis-'));
    try {
      return await measure(rig, caseStart, dir);
    } finally {
      await rig.load?.stop();
      await rig.nginx?.stop();
      await rig.mesh?.stop();
      await rig.app?.stop();
      await rig.redis?.stop();
      rmSync(dir, { recursive: true, force: true });
      console.error(`bench: ${CASE}: ${((performance.now() - caseStart) / 1000).toFixed(0)} s including setup and teardown`);
    }
  },
};
