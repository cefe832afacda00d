import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { killOnExit } from '../catalog/agent.js';

const STOP_TIMEOUT_MS = 5_000;

/** A child process started by the data-plane benchmark: its output tail, its PID, a bounded stop. */
export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  output(): string;
  /** `signal` (SIGTERM by default), SIGKILL after a bound; resolves once it exited. Safe to call twice. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Options of {@link startProcess}. */
export interface StartProcessOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** The process is ready once its output matches; the match is returned. */
  readonly ready: RegExp;
  readonly timeoutMs: number;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Spawns a process, keeps the last 20 kB of its output for diagnosis and waits (bounded) for
 * the readiness line. A process that exits or stays silent is stopped and reported with its output.
 */
export async function startProcess(options: StartProcessOptions): Promise<{ process: BenchProcess; match: RegExpExecArray }> {
  const child = spawn(options.command, [...options.args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: { ...process.env, ...options.env } });
  const pid = child.pid ?? -1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(killOnExit(pid));
  let output = '';
  let onOutput = (): void => undefined;
  const append = (chunk: Buffer): void => {
    output = `${output}${chunk.toString()}`.slice(-20_000);
    onOutput();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  const handle: BenchProcess = { name: options.name, pid, output: () => output, stop };
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${options.name} not ready within ${options.timeoutMs} ms:\n${output}`)), options.timeoutMs);
      onOutput = () => {
        const found = options.ready.exec(output);
        if (found === null) return;
        clearTimeout(timer);
        onOutput = () => undefined;
        resolve(found);
      };
      onOutput();
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited (${String(child.exitCode ?? child.signalCode)}) before it was ready:\n${output}`));
      });
    });
    return { process: handle, match };
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
}

let ticksPerSecond: number | undefined;

/** The kernel's clock tick (USER_HZ) that /proc/<pid>/stat counts CPU time in; 100 almost everywhere. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds of a process, all its threads (utime + stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is parenthesised and may hold spaces: count fields after its closing bracket.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Resident set size in MB (VmRSS of /proc/<pid>/status). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

/** Busy and total CPU time of the whole machine, in clock ticks summed over all CPUs (first line of /proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}
