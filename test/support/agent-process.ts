import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../../agent/index.js';
import { CLI_PATH } from './cli.js';
import { fileScope, useTempDir } from './harness.js';
import type { SecureFederation } from './catalog.js';
import { agentConfig, writePasswordFile } from './mesh/agents.js';

/** A real `meridian agent run` process. */
export interface AgentProcess {
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  readonly definitionsDir: string;
  /** The agent API's token file (the default: `<dataDir>/api-token`). */
  readonly tokenFile: string;
  output(): string;
  /** SIGTERM and wait: the graceful stop. */
  stop(): Promise<number | null>;
  /** SIGKILL: the agent dies without deregistering. */
  kill(): Promise<void>;
  /** GET with the agent's token; the body parsed as JSON. */
  get(path: string): Promise<unknown>;
  /** Any request with the agent's token (`Authorization: Bearer`), as an authorised local client sends it. */
  request(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
}

/** Options of {@link startAgentProcess}. */
export interface AgentProcessOptions {
  heartbeat?: string;
  dir?: string;
  /** Run the node's data plane (mTLS inbound on a free port; outbound listeners follow the registrations). */
  mesh?: boolean;
  /** Extra config fields, merged over the defaults (written as JSON, so fields the agent refuses can be tried too). */
  config?: Record<string, unknown>;
  /** Runs after the files are written and before the agent starts (e.g. to plant a token file). */
  beforeStart?: (paths: { dir: string; dataDir: string }) => void;
}

/** Writes an agent's config, identity and password files, and starts it; resolves once its API answers. */
export async function startAgentProcess(fed: SecureFederation, site: string, node: string, options: AgentProcessOptions = {}): Promise<AgentProcess> {
  const dir = options.dir ?? useTempDir(`meridian-agent-${node}-`);
  const definitionsDir = join(dir, 'services.d');
  mkdirSync(definitionsDir, { recursive: true });
  const base = agentConfig(fed, {
    site,
    node,
    passwordFile: writePasswordFile(fed, site, join(dir, 'nats-password')),
    dataDir: join(dir, 'data'),
    ...(options.heartbeat === undefined ? {} : { heartbeat: options.heartbeat }),
  });
  const config: AgentConfig = {
    ...base,
    definitionsDir,
    ...(options.mesh === true ? { mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '10s' } } : {}),
  };
  writeFileSync(join(dir, 'agent.json'), JSON.stringify({ ...config, ...options.config }, null, 2));
  options.beforeStart?.({ dir, dataDir: config.dataDir });
  return launch(dir, definitionsDir);
}

async function launch(dir: string, definitionsDir: string): Promise<AgentProcess> {
  const child: ChildProcess = spawn(process.execPath, [CLI_PATH, 'agent', 'run', '--config', join(dir, 'agent.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  fileScope.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${output}`)), 15_000);
    const poll = setInterval(() => {
      const match = /API (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(match[1]);
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`agent exited with ${String(code)} before starting:\n${output}`));
    });
  });
  const tokenFile = join(dir, 'data', 'api-token');
  const request = (path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> => {
    const headers: Record<string, string> = { authorization: `Bearer ${readFileSync(tokenFile, 'utf8').trim()}` };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${url}${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(10_000),
    });
  };
  return {
    url,
    pid: child.pid ?? -1,
    dir,
    definitionsDir,
    tokenFile,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    get: async (path) => (await request(path)).json(),
    request,
  };
}

/** Restarts an agent from its existing directory (config, identity, snapshot). */
export function relaunchAgent(previous: AgentProcess): Promise<AgentProcess> {
  return launch(previous.dir, previous.definitionsDir);
}

/** The `Authorization` header of an agent in this process (its API needs the token on every route but /v1/ready and /openapi.json). */
export function agentAuthorization(agent: { readonly apiTokenFile: string }): Record<string, string> {
  return { authorization: `Bearer ${readFileSync(agent.apiTokenFile, 'utf8').trim()}` };
}
