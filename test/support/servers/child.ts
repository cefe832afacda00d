import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { MeridianError } from '../../../shared/errors/index.js';
import { removeDir, trackChild, untrackChild } from './registry.js';

/** How a child ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const TAIL_BYTES = 16 * 1024;

/**
 * A spawned server process: its exit as a promise that never rejects (so racing it can't leave
 * an unhandled rejection behind), the tail of its output, and bounded stop/kill.
 */
export class Child {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  #exit: ExitInfo | undefined;
  #tail = '';
  readonly #proc: ChildProcess;

  private constructor(proc: ChildProcess, pid: number) {
    this.#proc = proc;
    this.pid = pid;
    trackChild(pid);
    for (const stream of [proc.stdout, proc.stderr]) this.#capture(stream);
    // 'close' (not 'exit') so the output tail is complete when a start failure is reported.
    this.exited = new Promise((resolve) => {
      proc.once('close', (code, signal) => {
        this.#exit = { code, signal };
        untrackChild(pid);
        resolve(this.#exit);
      });
    });
    // Unref'd so a forgotten stop() can't keep a script alive; the registry's exit hook then
    // kills the child. Every wait below holds its own ref'd timer instead.
    proc.unref();
  }

  /** Spawns `binary`; rejects with MERIDIAN_ERR_PROCESS_START if it cannot be executed. */
  static async spawn(binary: string, args: readonly string[], cwd: string): Promise<Child> {
    // Its own process group: a terminal's Ctrl-C reaches the whole foreground group, and a server
    // that died with it would leave every client (the demo's agents, gateways, control services)
    // waiting out its stop against a dead NATS. The owner stops it, in order; the registry kills
    // it by PID if the owner exits first.
    const proc = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (proc.pid !== undefined) {
      proc.on('error', () => undefined); // later errors (e.g. a failed kill) surface via exit
      return new Child(proc, proc.pid);
    }
    const cause = await new Promise<Error>((resolve) => proc.once('error', resolve));
    throw new MeridianError('MERIDIAN_ERR_PROCESS_START', `cannot execute ${binary}: ${cause.message}`, { cause });
  }

  /** Set once the process has exited. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  /** The last ~16 KB of stdout and stderr. */
  output(): string {
    return this.#tail;
  }

  /** SIGTERM, then SIGKILL after `boundMs`; resolves once the process has exited. */
  async stop(boundMs: number): Promise<ExitInfo> {
    if (this.#exit) return this.#exit;
    this.#proc.kill('SIGTERM');
    const graceful = await this.waitExit(boundMs);
    return graceful ?? this.kill();
  }

  /** SIGKILL; resolves once the process has exited. */
  async kill(): Promise<ExitInfo> {
    if (this.#exit) return this.#exit;
    this.#proc.kill('SIGKILL');
    const info = await this.waitExit(10_000);
    if (info) return info;
    throw new MeridianError('MERIDIAN_ERR_TIMEOUT', `process ${this.pid} did not exit 10 s after SIGKILL`);
  }

  /** The exit info, or undefined if still running after `boundMs`. */
  async waitExit(boundMs: number): Promise<ExitInfo | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), boundMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #capture(stream: Readable | null): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.#tail = (this.#tail + chunk).slice(-TAIL_BYTES);
    });
    stream.on('error', () => undefined); // the pipe dies with the child; exit is reported via 'close'
    (stream as Readable & { unref?: () => void }).unref?.();
  }
}

/** What a single-process server handle (redis-server, prometheus) is made of. */
export interface ChildServerParts {
  readonly child: Child;
  /** Its private temp dir, removed by stop(). */
  readonly dir: string;
  /** Its loopback port. */
  readonly port: number;
  /** Bound on the graceful stop before SIGKILL. */
  readonly stopTimeoutMs: number;
}

/** A running server of one process on 127.0.0.1: pid, output tail, and a stop() that ends the process and removes its dir, once. */
export abstract class ChildServer {
  readonly dir: string;
  readonly port: number;
  readonly #child: Child;
  readonly #stopTimeoutMs: number;
  #stopped = false;

  constructor(parts: ChildServerParts) {
    this.#child = parts.child;
    this.dir = parts.dir;
    this.port = parts.port;
    this.#stopTimeoutMs = parts.stopTimeoutMs;
  }

  /** The URL clients use (scheme and port). */
  abstract get url(): string;

  get pid(): number {
    return this.#child.pid;
  }

  output(): string {
    return this.#child.output();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#child.stop(this.#stopTimeoutMs);
    removeDir(this.dir);
  }
}

/** Last `lines` lines of `text`, for error messages. */
export function lastLines(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
