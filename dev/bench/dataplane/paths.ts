import type { LoadTarget } from './load-types.js';
import { cpus } from 'node:os';
import { cpuSeconds, machineTicks, rssMb, type BenchProcess } from './processes.js';

/** The four ways a request reaches the app, measured side by side. */
export type PathKey = 'direct' | 'same-site' | 'cross-site' | 'nginx';

/** One path: where the load generator sends, how many proxies it crosses, whose CPU and memory it costs. */
export interface BenchPath {
  readonly key: PathKey;
  readonly label: string;
  /** Proxies crossed: added latency per hop = (path - direct) / hops. */
  readonly hops: number;
  readonly target: LoadTarget;
  /** The proxy processes on the path, sampled in /proc during the measured phase. */
  readonly processes: readonly { readonly role: string; readonly process: BenchProcess }[];
}

/** CPU and memory of one process over one measured phase. */
export interface ProcessSample {
  readonly role: string;
  /** CPU seconds (user + system, all threads) per 1000 answered requests. */
  readonly cpuPer1000: number;
  readonly rssMb: number;
}

/** How busy the machine was during a measured phase, in cores, and how much of it this benchmark's own processes used. */
export interface MachineSample {
  readonly busyCores: number;
  /** The path's proxies, the app, the load generator and this process (NATS and the idle parts of the mesh count as foreign). */
  readonly benchCores: number;
}

function read(pid: number, what: (pid: number) => number): number {
  try {
    return what(pid);
  } catch {
    return NaN;
  }
}

/**
 * Reads CPU time of each path process, of `others` (the app, the load generator) and of the
 * machine at the start of the measured phase; `finish` turns it into per-request cost and load.
 */
export function sampleProcesses(path: BenchPath, others: readonly number[]): { start(): void; finish(answered: number): { processes: ProcessSample[]; machine: MachineSample } } {
  const pids = [...path.processes.map((p) => p.process.pid), ...others];
  let before: { cpu: number[]; self: NodeJS.CpuUsage; machine: { busy: number; total: number }; at: number } | undefined;
  return {
    start: () => {
      before = { cpu: pids.map((pid) => read(pid, cpuSeconds)), self: process.cpuUsage(), machine: machineTicks(), at: performance.now() };
    },
    finish: (answered) => {
      const cpu = pids.map((pid, i) => read(pid, cpuSeconds) - (before?.cpu[i] ?? NaN));
      const self = process.cpuUsage(before?.self);
      const machine = machineTicks();
      const seconds = (performance.now() - (before?.at ?? NaN)) / 1000;
      const ours = cpu.reduce((sum, c) => sum + c, 0) + (self.user + self.system) / 1e6;
      const busyShare = (machine.busy - (before?.machine.busy ?? NaN)) / (machine.total - (before?.machine.total ?? NaN));
      return {
        processes: path.processes.map((p, i) => ({ role: p.role, cpuPer1000: ((cpu[i] ?? NaN) * 1000) / answered, rssMb: read(p.process.pid, rssMb) })),
        machine: { busyCores: busyShare * cpus().length, benchCores: ours / seconds },
      };
    },
  };
}
