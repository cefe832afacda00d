import { startBenchFederation, type BenchFederation } from '../catalog/federation.js';
import { populateSite, type PopulatedSite, type SiteLoad } from '../catalog/populate.js';
import { agentResync, plainResync, type ResyncSample, type ResyncTarget } from '../catalog/resync.js';
import { median } from '../measure.js';
import type { BenchCase, BenchRow } from '../types.js';

const CASE = 'catalog.scale';
const TOTAL = 50_000;
const SITES = 10;
/** If a 10-server supercluster is not ready within this bound, the same 50 000 go over fewer sites. */
const FALLBACK_SITES = 5;
const START_TIMEOUT_MS = 60_000;
const NODES_PER_SITE = 50;
const SERVICES = 500;
const LEASE_TTL_MS = 10 * 60_000;
/** Renewed well inside the TTL; the case normally ends before the first renewal. */
const LEASE_RENEW_MS = 4 * 60_000;
const POPULATE_BOUND_MS = 120_000;
const RESYNC_TIMEOUT_MS = 60_000;
const ROUNDS = 3;
/** No new round starts after this much wall time, so the case stays near 3 minutes. */
const CASE_BUDGET_MS = 150_000;
const BASELINE = 'plain nats.js watcher of every bucket (own process)';

const siteNames = (count: number): string[] => Array.from({ length: count }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);

async function federation(): Promise<{ fed: BenchFederation; fallback: string }> {
  try {
    return { fed: await startBenchFederation({ sites: siteNames(SITES), startTimeoutMs: START_TIMEOUT_MS }), fallback: '' };
  } catch (error) {
    const why = (error as Error).message.split('\n')[0] ?? '';
    console.error(`bench: ${CASE}: ${SITES}-site supercluster not ready (${why}); falling back to ${FALLBACK_SITES} sites`);
    const fed = await startBenchFederation({ sites: siteNames(FALLBACK_SITES), startTimeoutMs: START_TIMEOUT_MS });
    return { fed, fallback: `FALLBACK: ${SITES} sites not ready within ${START_TIMEOUT_MS / 1000} s (${why}), ran ${FALLBACK_SITES} sites; ` };
  }
}

async function populate(fed: BenchFederation, sites: readonly string[]): Promise<{ populated: PopulatedSite[]; seconds: number }> {
  const started = performance.now();
  const load: SiteLoad = { instances: TOTAL / sites.length, nodes: NODES_PER_SITE, services: SERVICES, leaseTtlMs: LEASE_TTL_MS };
  const deadline = Date.now() + POPULATE_BOUND_MS;
  const populated = await Promise.all(sites.map((site) => populateSite(fed, site, load, deadline)));
  return { populated, seconds: (performance.now() - started) / 1000 };
}

function rows(agent: ResyncSample[], plain: ResyncSample[], note: string): BenchRow[] {
  const pick = (samples: ResyncSample[], field: keyof ResyncSample): number => median(samples.map((s) => s[field]));
  const row = (metric: string, field: keyof ResyncSample, unit: string, target: string): BenchRow => {
    const value = pick(agent, field);
    const baselineValue = pick(plain, field);
    return { case: CASE, metric, value, unit, baseline: BASELINE, baselineValue, ratio: value / baselineValue, target, note };
  };
  return [
    row('full resync, API up -> 50k visible', 'startToComplete', 'ms', '< 5000'),
    row('process start -> 50k visible', 'spawnToComplete', 'ms', ''),
    row('RSS when complete', 'rssComplete', 'MB', '< 150'),
    row('RSS settled (+2 s)', 'rssSettled', 'MB', '< 150'),
    row('peak RSS (VmHWM)', 'peak', 'MB', ''),
  ];
}

async function measureRounds(target: ResyncTarget, caseStart: number): Promise<{ agent: ResyncSample[]; plain: ResyncSample[] }> {
  const agent: ResyncSample[] = [];
  const plain: ResyncSample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0 && performance.now() - caseStart > CASE_BUDGET_MS) break;
    agent.push(await agentResync(target, round));
    plain.push(await plainResync(target));
    const [a, p] = [agent.at(-1), plain.at(-1)];
    console.error(`bench: ${CASE}: round ${round + 1}: agent ${a?.startToComplete.toFixed(0)} ms ${a?.rssSettled.toFixed(0)} MB; plain ${p?.startToComplete.toFixed(0)} ms ${p?.rssSettled.toFixed(0)} MB`);
  }
  return { agent, plain };
}

export const catalogScale: BenchCase = {
  name: CASE,
  description: `${TOTAL} instances over ${SITES} sites: a fresh agent's full resync time and RSS, vs a plain nats.js watcher`,
  async run(): Promise<BenchRow[]> {
    const caseStart = performance.now();
    const { fed, fallback } = await federation();
    let renewal: NodeJS.Timeout | undefined;
    try {
      const sites = fed.nats.sites.map((s) => s.site);
      const { populated, seconds } = await populate(fed, sites);
      renewal = setInterval(() => void Promise.all(populated.map((p) => p.renewLeases())).catch(() => undefined), LEASE_RENEW_MS).unref();
      const first = sites[0] ?? 's01';
      const { agent, plain } = await measureRounds({ fed, site: first, sites, total: TOTAL, timeoutMs: RESYNC_TIMEOUT_MS }, caseStart);
      const note =
        `${fallback}${sites.length} sites x ${TOTAL / sites.length} instances (${SERVICES} services, ${NODES_PER_SITE} nodes/site, lease TTL ${LEASE_TTL_MS / 60_000} min), ` +
        `agent and baseline at ${first} with empty state; median of ${agent.length} round(s); supercluster ready in ${fed.readySeconds.toFixed(1)} s, populated in ${seconds.toFixed(1)} s; ` +
        'baseline counts distinct keys and keeps no values';
      return rows(agent, plain, note);
    } finally {
      clearInterval(renewal);
      await fed.stop();
    }
  },
};
