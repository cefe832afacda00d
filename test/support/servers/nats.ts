import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeridianError } from '../../../shared/errors/index.js';
import { findBinary } from './binary.js';
import { Child } from './child.js';
import { renderNatsConfig } from './nats-config.js';
import { getJson, pollUntil } from './probe.js';
import { removeDir, trackDir } from './registry.js';
import type { NatsServerHandle, NatsServerOptions } from './types.js';

interface Ports {
  port: number;
  monitorPort: number;
}

/**
 * Starts a nats-server in a fresh temp dir (`meridian-nats-*`) on 127.0.0.1, JetStream on by
 * default. Resolves once the ports file is written and /healthz answers ok (for a clustered
 * server: once JetStream is enabled, since full health needs its peers). Rejects with
 * MERIDIAN_ERR_PROCESS_START (with the server's last output) if it exits first, or
 * MERIDIAN_ERR_TIMEOUT; nothing is left behind on failure.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  checkOptions(options);
  const binary = options.binary ?? findBinary('nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'meridian-nats-'));
  trackDir(dir);
  const server = new NatsServer(binary, dir, options);
  try {
    await server.launch();
  } catch (err) {
    removeDir(dir);
    throw err;
  }
  return server;
}

function checkOptions(options: NatsServerOptions): void {
  for (const key of ['port', 'monitorPort'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 65535)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startNatsServer: ${key} must be an integer port in 1..65535, got ${String(value)}`);
    }
  }
  for (const key of ['startTimeoutMs', 'stopTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(value > 0)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startNatsServer: ${key} must be a positive number of ms, got ${String(value)}`);
    }
  }
}

class NatsServer implements NatsServerHandle {
  readonly name: string;
  readonly dir: string;
  readonly configPath: string;
  readonly #binary: string;
  readonly #options: NatsServerOptions;
  #ports: Ports;
  #child: Child | undefined;
  #stopped = false;

  constructor(binary: string, dir: string, options: NatsServerOptions) {
    this.#binary = binary;
    this.dir = dir;
    this.#options = options;
    this.name = options.name ?? `meridian-${randomBytes(4).toString('hex')}`;
    this.configPath = join(dir, 'nats-server.conf');
    this.#ports = { port: options.port ?? -1, monitorPort: options.monitorPort ?? -1 };
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }
  get port(): number {
    return this.#ports.port;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.#ports.port}`;
  }
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.#ports.monitorPort}`;
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitInfo === undefined;
  }

  output(): string {
    return this.#child?.output() ?? '';
  }

  /** Writes the config with the current ports (fixed after the first start) and starts. */
  async launch(): Promise<void> {
    const o = this.#options;
    const config = renderNatsConfig({
      name: this.name,
      dir: this.dir,
      ...this.#ports,
      jetstream: o.jetstream ?? true,
      tls: o.tls,
      cluster: o.cluster,
      gateway: o.gateway,
      extraConfig: o.extraConfig,
    });
    await writeFile(this.configPath, config);
    const child = await Child.spawn(this.#binary, ['-c', this.configPath], this.dir);
    this.#child = child;
    try {
      await this.#waitReady(child);
    } catch (err) {
      await child.kill();
      throw err;
    }
  }

  async #waitReady(child: Child): Promise<void> {
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 10_000);
    const remaining = (): number => Math.max(1, deadline - Date.now());
    this.#ports = await pollUntil(() => this.#readPortsFile(child.pid), {
      what: `the ports file of nats-server ${this.name} in ${this.dir}`,
      timeoutMs: remaining(),
      intervalMs: 20,
      child,
    });
    // Full health of a clustered server needs its peers (a meta leader), which the caller
    // awaits across all servers; alone we only know that JetStream is enabled.
    const clustered = this.#options.cluster !== undefined || this.#options.gateway !== undefined;
    const query = clustered ? '?js-enabled-only=true' : '';
    await pollUntil(() => this.#healthy(query), {
      what: `${this.monitorUrl}/healthz${query} of nats-server ${this.name}`,
      timeoutMs: remaining(),
      child,
    });
  }

  /** The server names the file `<binary>_<pid>.ports`; the PID keeps a crashed run's file out. */
  async #readPortsFile(pid: number): Promise<Ports | undefined> {
    const file = (await readdir(this.dir)).find((f) => f.endsWith(`_${pid}.ports`));
    if (file === undefined) return undefined;
    // The file may be caught half-written; a parse error just means "poll again".
    const parsed = JSON.parse(await readFile(join(this.dir, file), 'utf8')) as { nats?: string[]; monitoring?: string[] };
    const client = parsed.nats?.[0];
    const monitor = parsed.monitoring?.[0];
    if (client === undefined || monitor === undefined) return undefined;
    return { port: Number(new URL(client).port), monitorPort: Number(new URL(monitor).port) };
  }

  async #healthy(query: string): Promise<true | undefined> {
    const body = (await getJson(`${this.monitorUrl}/healthz${query}`, 1000)) as { status?: string };
    return body.status === 'ok' ? true : undefined;
  }

  async restart(): Promise<void> {
    this.#assertNotStopped('restart');
    if (this.running) await this.terminate();
    await this.launch();
  }

  async terminate(): Promise<void> {
    this.#assertNotStopped('terminate');
    await this.#child?.stop(this.#options.stopTimeoutMs ?? 5000);
  }

  async kill(): Promise<void> {
    this.#assertNotStopped('kill');
    await this.#child?.kill();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#child?.stop(this.#options.stopTimeoutMs ?? 5000);
    removeDir(this.dir);
  }

  #assertNotStopped(action: string): void {
    if (this.#stopped) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `cannot ${action} nats-server ${this.name}: it was stopped and its dir removed`);
    }
  }
}
