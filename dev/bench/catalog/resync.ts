import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bucketName } from '../../../shared/catalog/index.js';
import { killOnExit, launchBenchAgent, residentMb } from './agent.js';
import type { CountChildConfig } from './count-child.js';
import type { BenchFederation } from './federation.js';

const COUNT_CHILD = fileURLToPath(new URL('./count-child.js', import.meta.url));
const POLL_MS = 25;
const SETTLE_MS = 2000;

/** One resync measurement; times in ms, memory in MB. */
export interface ResyncSample {
  /** Process spawn until it had every instance. */
  readonly spawnToComplete: number;
  /** From the process's first line (agent: its API line; baseline: modules loaded) until it had every instance. */
  readonly startToComplete: number;
  readonly rssComplete: number;
  readonly rssSettled: number;
  readonly peak: number;
}

/** What a resync run targets: the site it starts at, and how many instances the federation holds. */
export interface ResyncTarget {
  readonly fed: BenchFederation;
  readonly site: string;
  readonly sites: readonly string[];
  readonly total: number;
  readonly timeoutMs: number;
}

interface AgentState {
  ready?: boolean;
  sites?: { site: string; instances: number }[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real agent with an empty data dir at `site`: complete once GET /v1/agent says ready with every
 * site followed and holding `total` instances (a cheap poll), confirmed by GET /v1/services (the
 * query path, with lease checks) counting `total` instances.
 */
export async function agentResync(target: ResyncTarget, round: number): Promise<ResyncSample> {
  const agent = await launchBenchAgent(target.fed, { site: target.site, node: `${target.site}-bench-agent-${round}`, heartbeat: '2s' });
  try {
    const deadline = performance.now() + target.timeoutMs;
    let last: unknown;
    for (;;) {
      if (performance.now() > deadline) throw new Error(`agent resync incomplete after ${target.timeoutMs} ms: ${JSON.stringify(last)}`);
      const state = await agent.get<AgentState>('/v1/agent');
      last = state;
      const held = state.sites?.reduce((sum, s) => sum + s.instances, 0) ?? 0;
      if (state.ready === true && state.sites?.length === target.sites.length && held >= target.total) {
        const services = await agent.get<{ services: { instances: number }[] }>('/v1/services');
        const visible = services.services.reduce((sum, s) => sum + s.instances, 0);
        last = { ...state, visible };
        if (visible >= target.total) break;
      }
      await sleep(POLL_MS);
    }
    const completeAt = performance.now();
    const rssComplete = residentMb(agent.pid).rss;
    await sleep(SETTLE_MS);
    const settled = residentMb(agent.pid);
    return { spawnToComplete: completeAt - agent.spawnedAt, startToComplete: completeAt - agent.apiAt, rssComplete, rssSettled: settled.rss, peak: settled.peak };
  } finally {
    await agent.stop();
  }
}

/** The baseline: {@link count-child} as its own process, with `site`'s credential. */
export async function plainResync(target: ResyncTarget): Promise<ResyncSample> {
  const { fed, site } = target;
  const node = `${site}-plain-counter`;
  fed.identity(site, node);
  const paths = fed.pki.identityPaths(site, 'agent', node);
  const config: CountChildConfig = {
    url: fed.nats.site(site).url,
    user: `site-${site}`,
    password: fed.setups.get(site)?.password ?? '',
    certFile: paths.cert,
    keyFile: paths.key,
    caFile: fed.pki.bundlePath,
    buckets: target.sites.map(bucketName),
    total: target.total,
    maxMs: target.timeoutMs + SETTLE_MS + 10_000,
  };
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [COUNT_CHILD], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MERIDIAN_BENCH_COUNT: JSON.stringify(config) } });
  const forget = killOnExit(child.pid ?? -1);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(forget);
  let output = '';
  const marks = new Map<string, number>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const mark of ['START', 'DONE']) if (!marks.has(mark) && output.includes(mark)) marks.set(mark, performance.now());
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  try {
    const deadline = performance.now() + target.timeoutMs;
    while (!marks.has('DONE')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`baseline counter exited early: ${output}`);
      if (performance.now() > deadline) throw new Error(`baseline counter incomplete after ${target.timeoutMs} ms: ${output}`);
      await sleep(5);
    }
    const completeAt = marks.get('DONE') ?? NaN;
    const rssComplete = residentMb(child.pid ?? -1).rss;
    await sleep(SETTLE_MS);
    const settled = residentMb(child.pid ?? -1);
    return { spawnToComplete: completeAt - spawnedAt, startToComplete: completeAt - (marks.get('START') ?? NaN), rssComplete, rssSettled: settled.rss, peak: settled.peak };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  }
}
