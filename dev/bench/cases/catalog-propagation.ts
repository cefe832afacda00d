import { ensureSiteBucket, openSiteBucket } from '../../../shared/catalog/index.js';
import { launchBenchAgent, type BenchAgent } from '../catalog/agent.js';
import { runChanges, type ChangeRun } from '../catalog/changes.js';
import { startBenchFederation, type BenchFederation } from '../catalog/federation.js';
import { meridianSide, rawSide, type PropagationSide } from '../catalog/propagation-sides.js';
import { median, quantile } from '../measure.js';
import type { BenchCase, BenchRow } from '../types.js';

const CASE = 'catalog.propagation';
const ROUNDS = 3;
const CHANGES_PER_ROUND = 200;
const WARMUP = 10;
const CHANGE_TIMEOUT_MS = 5000;
/** Bound on one round of one side; a round that hits it reports what it measured. */
const ROUND_DEADLINE_MS = 30_000;
const SERVICE = 'bench-prop';
const BASELINE = 'raw NATS KV put/delete at A, watcher at B';

interface SideResult {
  p50: number[];
  p99: number[];
  writeP50: number[];
  writeP99: number[];
  /** B's agent share: B's NATS got the change -> B's SSE event. */
  lagP50: number[];
  lagP99: number[];
  counted: number;
  timeouts: number;
  errors: number;
  skipped: number;
  errorSamples: string[];
}

function emptyResult(): SideResult {
  return { p50: [], p99: [], writeP50: [], writeP99: [], lagP50: [], lagP99: [], counted: 0, timeouts: 0, errors: 0, skipped: 0, errorSamples: [] };
}

function record(result: SideResult, run: ChangeRun, lags: number[] | undefined): void {
  if (lags !== undefined && lags.length > 0) {
    result.lagP50.push(quantile(lags, 0.5));
    result.lagP99.push(quantile(lags, 0.99));
  }
  result.p50.push(quantile(run.propagation, 0.5));
  result.p99.push(quantile(run.propagation, 0.99));
  result.writeP50.push(quantile(run.writes, 0.5));
  result.writeP99.push(quantile(run.writes, 0.99));
  result.counted += run.propagation.length;
  result.timeouts += run.timeouts;
  result.errors += run.errors;
  result.skipped += run.skipped;
  result.errorSamples.push(...run.errorSamples.slice(0, 3 - result.errorSamples.length));
}

async function waitForSites(agent: BenchAgent, sites: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const state = await agent.get<{ ready?: boolean; sites?: { site: string }[] }>('/v1/agent').catch(() => undefined);
    const seen = new Set(state?.sites?.map((s) => s.site));
    if (state?.ready === true && sites.every((s) => seen.has(s))) return;
    if (performance.now() > deadline) throw new Error(`agent ${agent.url} did not follow ${sites.join(', ')} within ${timeoutMs} ms: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function measure<T>(side: PropagationSide<T>, result: SideResult, round: string, options: { count: number; warmup: number }): Promise<void> {
  const run = await runChanges({
    board: side.board,
    ...options,
    timeoutMs: CHANGE_TIMEOUT_MS,
    deadlineMs: ROUND_DEADLINE_MS,
    change: (index) => side.change(index, round),
  });
  const lags = side.lags?.();
  if (options.count > 0) record(result, run, lags);
}

/** Both sides, interleaved round by round, so both see the same background noise. */
async function measureBoth(fed: BenchFederation, agents: { a: BenchAgent; b: BenchAgent }): Promise<{ meridian: SideResult; raw: SideResult }> {
  const writer = await openSiteBucket(await fed.connect('a', 'bench-writer'), 'a');
  const reader = await openSiteBucket(await fed.connect('b', 'bench-reader'), 'a');
  const sides = {
    raw: await rawSide({ writer, reader, site: 'a', service: SERVICE }),
    meridian: await meridianSide({ writer: agents.a, reader: agents.b, service: SERVICE, tap: reader }),
  };
  const results = { meridian: emptyResult(), raw: emptyResult() };
  try {
    await measure(sides.raw, results.raw, 'warm', { count: 0, warmup: WARMUP });
    await measure(sides.meridian, results.meridian, 'warm', { count: 0, warmup: WARMUP });
    for (let round = 0; round < ROUNDS; round++) {
      await measure(sides.raw, results.raw, `r${round}`, { count: CHANGES_PER_ROUND, warmup: 0 });
      await measure(sides.meridian, results.meridian, `r${round}`, { count: CHANGES_PER_ROUND, warmup: 0 });
    }
  } finally {
    sides.raw.close();
    sides.meridian.close();
  }
  return results;
}

function rows(results: { meridian: SideResult; raw: SideResult }, readySeconds: number): BenchRow[] {
  const { meridian, raw } = results;
  const attempted = ROUNDS * CHANGES_PER_ROUND;
  const tally = (r: SideResult): string =>
    `${r.counted}/${attempted} arrived, ${r.timeouts} timeouts (>${CHANGE_TIMEOUT_MS} ms), ${r.errors} write errors, ${r.skipped} skipped${r.errorSamples.length > 0 ? ` (${r.errorSamples.join('; ')})` : ''}`;
  const note = `median of ${ROUNDS} interleaved rounds x ${CHANGES_PER_ROUND} sequential changes (alternate register/deregister), ${WARMUP} warm-up each; timed from before the write (node:http keep-alive to A's agent / kv.put at A) to the first SSE event on one stream from B's agent / the KV watcher at B; meridian ${tally(meridian)}; raw ${tally(raw)}; supercluster ready in ${readySeconds.toFixed(1)} s`;
  const row = (metric: string, value: number, baselineValue: number, target: string, baseline = BASELINE): BenchRow => ({
    case: CASE,
    metric,
    value,
    unit: 'ms',
    baseline,
    baselineValue,
    ratio: value / baselineValue,
    target,
    note,
  });
  return [
    row('A agent API -> B agent SSE p50', median(meridian.p50), median(raw.p50), ''),
    row('A agent API -> B agent SSE p99', median(meridian.p99), median(raw.p99), 'p99 < 50 (goal 10)'),
    row('A agent API write answered p50', median(meridian.writeP50), median(raw.writeP50), '', 'raw KV put/delete acked at A'),
    row('A agent API write answered p99', median(meridian.writeP99), median(raw.writeP99), '', 'raw KV put/delete acked at A'),
    { case: CASE, metric: 'B agent share (B NATS -> B SSE) p50', value: median(meridian.lagP50), unit: 'ms', note },
    { case: CASE, metric: 'B agent share (B NATS -> B SSE) p99', value: median(meridian.lagP99), unit: 'ms', note },
  ];
}

export const catalogPropagation: BenchCase = {
  name: CASE,
  description: '2-site secured federation: register/deregister at A via the agent API until B\'s agent SSE reports it, vs raw NATS KV A->B',
  async run(): Promise<BenchRow[]> {
    const fed = await startBenchFederation({ sites: ['a', 'b'] });
    const agents: BenchAgent[] = [];
    try {
      // As a site bootstrap would: buckets exist before agents look for them.
      for (const site of ['a', 'b']) await ensureSiteBucket(await fed.connect(site, `bench-boot-${site}`), site, { deadlineMs: 30_000 });
      const a = await launchBenchAgent(fed, { site: 'a', node: 'a-1', heartbeat: '1s' });
      agents.push(a);
      const b = await launchBenchAgent(fed, { site: 'b', node: 'b-1', heartbeat: '1s' });
      agents.push(b);
      await Promise.all([waitForSites(a, ['a', 'b'], 30_000), waitForSites(b, ['a', 'b'], 30_000)]);
      return rows(await measureBoth(fed, { a, b }), fed.readySeconds);
    } finally {
      await Promise.allSettled(agents.map((agent) => agent.stop()));
      await fed.stop();
    }
  },
};
