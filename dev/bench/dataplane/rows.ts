import { median } from '../measure.js';
import type { BenchRow } from '../types.js';
import type { LoadResult } from './load-types.js';
import type { BenchPath, MachineSample, PathKey, ProcessSample } from './paths.js';
import type { SaturationResult } from './saturation.js';

/** One measured open-loop run. */
export interface RunRecord {
  readonly path: PathKey;
  readonly rate: number;
  readonly round: number;
  readonly result: LoadResult;
  readonly processes: readonly ProcessSample[];
  readonly machine: MachineSample;
}

/** What the rows are built from. */
export interface DataplaneResults {
  readonly caseName: string;
  readonly paths: readonly BenchPath[];
  readonly rates: readonly number[];
  readonly runs: readonly RunRecord[];
  readonly saturation: readonly { readonly path: PathKey; readonly result: SaturationResult }[];
  readonly saturationTool: string;
  /** RSS (MB) of each path process role after start-up, before any load. */
  readonly idleRss: ReadonlyMap<string, number>;
  /** Setup and method, appended to every row's note. */
  readonly context: string;
}

const TARGET_RATE = 1000;
const NGINX = 'nginx mTLS pair';

function runsOf(results: DataplaneResults, path: PathKey, rate: number): RunRecord[] {
  return results.runs.filter((r) => r.path === path && r.rate === rate);
}

function medianOf(runs: readonly RunRecord[], pick: (r: LoadResult) => number): number {
  return median(runs.map((r) => pick(r.result)));
}

/** Errors, non-2xx, unfinished and generator lag of a path's runs, for its note. */
function tally(runs: readonly RunRecord[]): string {
  const sum = (pick: (r: LoadResult) => number): number => runs.reduce((total, r) => total + pick(r.result), 0);
  const first = runs.find((r) => r.result.firstError !== undefined)?.result.firstError;
  const non2xx = runs.find((r) => r.result.firstNon2xx !== undefined)?.result.firstNon2xx;
  return (
    `${runs.length} rounds, ${sum((r) => r.ok)}/${sum((r) => r.sent)} 2xx, ${sum((r) => r.non2xx)} non-2xx${non2xx === undefined ? '' : ` (first: ${non2xx})`}, ${sum((r) => r.errors)} errors${first === undefined ? '' : ` (${first})`}, ` +
    `${sum((r) => r.unfinished)} unfinished; machine ${median(runs.map((r) => r.machine.busyCores)).toFixed(2)} cores busy (${median(runs.map((r) => r.machine.busyCores - r.machine.benchCores)).toFixed(2)} by processes off the path: NATS, idle mesh processes, other tenants); achieved ${medianOf(runs, (r) => r.achievedRps).toFixed(0)} rps; generator send lag p50 ${medianOf(runs, (r) => r.sendLag.p50).toFixed(2)} / p99 ${medianOf(runs, (r) => r.sendLag.p99).toFixed(2)} ms`
  );
}

function latencyRows(results: DataplaneResults, rate: number): BenchRow[] {
  const rows: BenchRow[] = [];
  const direct = runsOf(results, 'direct', rate);
  for (const path of results.paths) {
    const runs = runsOf(results, path.key, rate);
    if (runs.length === 0) continue;
    for (const q of ['p50', 'p99'] as const) {
      const value = medianOf(runs, (r) => r.latency[q]);
      const base = path.key === 'direct' ? undefined : medianOf(direct, (r) => r.latency[q]);
      rows.push({
        case: results.caseName,
        metric: `${path.label} ${q} @${rate} rps`,
        value,
        unit: 'ms',
        ...(base === undefined ? {} : { baseline: 'direct (no proxy)', baselineValue: base, ratio: value / base }),
        note: `${tally(runs)}; ${results.context}`,
      });
    }
  }
  return rows;
}

/** (path - direct) / hops of each round, paired by round: how far the rounds spread on a noisy machine. */
function perRoundSpread(results: DataplaneResults, path: BenchPath, rate: number, q: 'p50' | 'p99'): string {
  const values = runsOf(results, path.key, rate).flatMap((run) => {
    const direct = runsOf(results, 'direct', rate).find((d) => d.round === run.round);
    return direct === undefined ? [] : [(run.result.latency[q] - direct.result.latency[q]) / path.hops];
  });
  return values.length === 0 ? 'no paired round' : `per round ${values.map((v) => v.toFixed(2)).join(' / ')} ms (best ${Math.min(...values).toFixed(2)})`;
}

/** (path - direct) / hops, from the medians of the rounds. */
function addedPerHop(results: DataplaneResults, path: BenchPath, rate: number, q: 'p50' | 'p99'): number {
  const direct = medianOf(runsOf(results, 'direct', rate), (r) => r.latency[q]);
  return (medianOf(runsOf(results, path.key, rate), (r) => r.latency[q]) - direct) / path.hops;
}

function perHopRows(results: DataplaneResults, rate: number): BenchRow[] {
  const nginx = results.paths.find((p) => p.key === 'nginx');
  const rows: BenchRow[] = [];
  for (const path of results.paths) {
    if (path.hops === 0 || runsOf(results, path.key, rate).length === 0) continue;
    for (const q of ['p50', 'p99'] as const) {
      const value = addedPerHop(results, path, rate, q);
      const base = nginx === undefined || path.key === 'nginx' || runsOf(results, 'nginx', rate).length === 0 ? undefined : addedPerHop(results, nginx, rate, q);
      const isMesh = path.key === 'same-site' || path.key === 'cross-site';
      rows.push({
        case: results.caseName,
        metric: `${path.label} added per hop ${q} @${rate} rps`,
        value,
        unit: 'ms',
        ...(base === undefined ? {} : { baseline: `${NGINX} added per hop`, baselineValue: base, ratio: value / base }),
        ...(isMesh && rate === TARGET_RATE ? { target: q === 'p50' ? '<= 0.25' : '<= 1.5' } : {}),
        note: `(path ${q} - direct ${q}) / ${path.hops} proxies, medians of the rounds; ${perRoundSpread(results, path, rate, q)}; ${results.context}`,
      });
    }
  }
  return rows;
}

function saturationRows(results: DataplaneResults): BenchRow[] {
  const rps = (path: PathKey): number => median(results.saturation.filter((s) => s.path === path).map((s) => s.result.rps));
  const nginx = rps('nginx');
  return results.paths
    .filter((path) => results.saturation.some((s) => s.path === path.key))
    .map((path) => {
      const runs = results.saturation.filter((s) => s.path === path.key);
      const value = rps(path.key);
      const detail = runs.map((s) => `${s.result.rps.toFixed(0)} rps, p50 ${s.result.p50.toFixed(2)} / p99 ${s.result.p99.toFixed(2)} ms, ${s.result.failures} failures`).join('; ');
      return {
        case: results.caseName,
        metric: `${path.label} saturation`,
        value,
        unit: 'req/s',
        ...(path.key === 'nginx' || Number.isNaN(nginx) ? {} : { baseline: NGINX, baselineValue: nginx, ratio: value / nginx }),
        ...(path.key === 'same-site' ? { target: `>= 0.35x ${NGINX}` } : {}),
        note: `${results.saturationTool}, closed loop, ${runs.length} run(s): ${detail}; ${results.context}`,
      };
    });
}

/** The median over the rounds at the target rate of one process role's samples. */
function processMedian(results: DataplaneResults, path: PathKey, role: string, pick: (s: ProcessSample) => number): number {
  const samples = runsOf(results, path, TARGET_RATE).flatMap((r) => r.processes.filter((p) => p.role === role).map(pick));
  return median(samples);
}

function resourceRows(results: DataplaneResults): BenchRow[] {
  const rows: BenchRow[] = [];
  const nginxCpu = median(['nginx #1', 'nginx #2'].map((role) => processMedian(results, 'nginx', role, (s) => s.cpuPer1000)));
  const nginxRss = Math.max(...['nginx #1', 'nginx #2'].map((role) => processMedian(results, 'nginx', role, (s) => s.rssMb)));
  for (const path of results.paths) {
    if (path.key === 'direct' || path.key === 'nginx') continue;
    for (const { role } of path.processes) {
      const cpu = processMedian(results, path.key, role, (s) => s.cpuPer1000);
      const rss = processMedian(results, path.key, role, (s) => s.rssMb);
      const note = `${path.label} @${TARGET_RATE} rps, medians of the rounds; ${role} RSS ${(results.idleRss.get(role) ?? NaN).toFixed(0)} MB before any load; CPU = /proc/<pid>/stat utime+stime delta over the measured phase / answered requests; RSS = VmRSS at its end; baseline = mean of the two nginx processes (CPU), larger of the two (RSS); ${results.context}`;
      const base = { case: results.caseName, note };
      rows.push({ ...base, metric: `${role} CPU per 1000 req (${path.label})`, value: cpu, unit: 'CPU s', baseline: `${NGINX}, per process`, baselineValue: nginxCpu, ratio: cpu / nginxCpu });
      const isAgent = role.startsWith('agent');
      rows.push({ ...base, metric: `${role} RSS @${TARGET_RATE} rps (${path.label})`, value: rss, unit: 'MB', baseline: `${NGINX}, per process`, baselineValue: nginxRss, ratio: rss / nginxRss, ...(isAgent ? { target: '<= 80' } : {}) });
    }
  }
  return rows;
}

/** The largest agent RSS before any load: what the figures at 1000 rps add to. */
function idleRows(results: DataplaneResults): BenchRow[] {
  const idleAgents = [...results.idleRss].filter(([role]) => role.startsWith('agent'));
  if (idleAgents.length === 0) return [];
  const [role, value] = idleAgents.reduce((a, b) => (b[1] > a[1] ? b : a));
  const note = `after start-up (catalog synced, workload certificates issued, one probe request per path), before the load: ${idleAgents.map(([r, mb]) => `${r} ${mb.toFixed(0)} MB`).join(', ')}; ${results.context}`;
  return [{ case: results.caseName, metric: `agent RSS before load (largest: ${role})`, value, unit: 'MB', note }];
}

/** Every row of the data-plane case: latency per path and rate, added latency per hop, saturation, CPU and memory. */
export function dataplaneRows(results: DataplaneResults): BenchRow[] {
  return [
    ...results.rates.flatMap((rate) => latencyRows(results, rate)),
    ...results.rates.flatMap((rate) => perHopRows(results, rate)),
    ...saturationRows(results),
    ...resourceRows(results),
    ...idleRows(results),
  ];
}
