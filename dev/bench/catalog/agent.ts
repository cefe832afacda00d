import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS, type AgentConfig } from '../../../agent/index.js';
import { readTokenFile } from '../../../shared/identity/index.js';
import type { BenchFederation } from './federation.js';

const CLI = fileURLToPath(new URL('../../../cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** A real `meridian agent run` process started by a benchmark; its timestamps are performance.now(). */
export interface BenchAgent {
  readonly url: string;
  /** The agent API's bearer token (every route but /v1/ready needs it). */
  readonly token: string;
  readonly pid: number;
  /** When the process was spawned. */
  readonly spawnedAt: number;
  /** When its `API http://...` line arrived. */
  readonly apiAt: number;
  output(): string;
  get<T>(path: string): Promise<T>;
  /** SIGTERM, SIGKILL after a bound; removes the agent's temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link launchBenchAgent}. */
export interface BenchAgentOptions {
  readonly site: string;
  readonly node: string;
  readonly heartbeat?: string;
  /** Extra node flags (e.g. --cpu-prof); empty by default. */
  readonly execArgv?: readonly string[];
  /** Extra environment for the child (e.g. MERIDIAN_BENCH_CATALOG_*). */
  readonly env?: Readonly<Record<string, string>>;
}

/** PIDs still running, killed if the bench process exits early: a crashed bench must not leave children behind. */
const running = new Set<number>();
let hooked = false;

/** Kills `pid` with SIGKILL if this process exits while it still runs; call the returned function once it has exited. */
export function killOnExit(pid: number): () => void {
  running.add(pid);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const leftover of running) {
        try {
          process.kill(leftover, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
  }
  return () => running.delete(pid);
}

/** Writes config, identity and password files into a fresh temp dir (empty data dir) and starts the agent. */
export async function launchBenchAgent(fed: BenchFederation, options: BenchAgentOptions): Promise<BenchAgent> {
  const { site, node } = options;
  const dir = mkdtempSync(join(tmpdir(), `meridian-bench-agent-${node}-`));
  try {
    fed.identity(site, node);
    const issued = fed.pki.identityPaths(site, 'agent', node);
    writeFileSync(join(dir, 'nats-password'), fed.setups.get(site)?.password ?? '', { mode: 0o600 });
    mkdirSync(join(dir, 'services.d'));
    const config: AgentConfig = {
      site,
      region: `region-${site}`,
      zone: `${site}-a`,
      platform: 'vm',
      node,
      nats: { url: fed.nats.site(site).url, passwordFile: join(dir, 'nats-password'), keyFile: issued.key, certFile: issued.cert, bundleFile: fed.pki.bundlePath, trustDomain: 'acme.internal' },
      api: { host: '127.0.0.1', port: 0 },
      definitionsDir: join(dir, 'services.d'),
      dataDir: join(dir, 'data'),
      heartbeat: options.heartbeat ?? '1s',
    };
    writeFileSync(join(dir, 'agent.json'), JSON.stringify(config, null, 2));
    return await spawnAgent(dir, options);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Keeps the child's last output for diagnosis and resolves when its `API http://...` line arrives. */
function watchOutput(child: ChildProcessByStdio<null, Readable, Readable>, exited: Promise<void>): { text(): string; api: Promise<{ url: string; apiAt: number }> } {
  let output = '';
  let api: { url: string; apiAt: number } | undefined;
  let found = (_: { url: string; apiAt: number }): void => undefined;
  const append = (chunk: Buffer): void => {
    output = `${output}${chunk.toString()}`.slice(-20_000);
    const match = api === undefined ? /API (http:\/\/127\.0\.0\.1:\d+)/.exec(output) : null;
    if (match?.[1] !== undefined) found((api = { url: match[1], apiAt: performance.now() }));
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const ready = new Promise<{ url: string; apiAt: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not print its API line within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    found = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`agent exited before starting:\n${output}`));
    });
  });
  return { text: () => output, api: ready };
}

async function spawnAgent(dir: string, options: BenchAgentOptions): Promise<BenchAgent> {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(options.execArgv ?? AGENT_NODE_FLAGS), CLI, 'agent', 'run', '--config', join(dir, 'agent.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: dir,
    env: { ...process.env, ...options.env },
  });
  const pid = child.pid ?? -1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(killOnExit(pid));
  const output = watchOutput(child, exited);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { url, apiAt } = await output.api;
    // The agent writes its token before its API listens: the file is there once the API line is.
    const token = readTokenFile(join(dir, 'data', 'api-token'), 'agent API token');
    return {
      url,
      token,
      pid,
      spawnedAt,
      apiAt,
      output: () => output.text(),
      get: async <T>(path: string): Promise<T> => (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })).json() as Promise<T>,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Resident set size and its peak, in MB, from /proc (Linux). */
export function residentMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}
