import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killOnExit } from '../catalog/agent.js';
import type { LoadJob, LoadMessage, LoadResult } from './load-types.js';

const CHILD = fileURLToPath(new URL('./load-child.js', import.meta.url));
/** Beyond a job's own phases, how long its result may take before the run is abandoned. */
const SLACK_MS = 10_000;

/** The load generator process: one job at a time. */
export interface LoadGenerator {
  readonly pid: number;
  /** Runs `job`; `onMeasuring` is called when the measured phase starts (after the warm-up). */
  run(job: LoadJob, onMeasuring?: () => void): Promise<LoadResult>;
  /** Disconnects (the child exits), SIGKILL after a bound. Safe to call twice. */
  stop(): Promise<void>;
}

function boundOf(job: LoadJob): number {
  return job.warmupMs + job.durationMs + (job.kind === 'open' ? job.drainMs * 2 : 0) + SLACK_MS;
}

/** Forks the generator (dev/bench/dataplane/load-child.ts) with an IPC channel. */
export function startLoadGenerator(): LoadGenerator {
  const child: ChildProcess = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid ?? -1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(killOnExit(pid));
  return {
    pid,
    run(job, onMeasuring) {
      return new Promise<LoadResult>((resolve, reject) => {
        const cleanup = (): void => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`load generator gave no result within ${boundOf(job)} ms`));
        }, boundOf(job));
        const onExit = (): void => {
          cleanup();
          reject(new Error('load generator exited during a run'));
        };
        const onMessage = (message: LoadMessage): void => {
          if (message.type === 'measuring') return onMeasuring?.();
          cleanup();
          if (message.type === 'result') resolve(message.result);
          else reject(new Error(`load generator failed: ${message.error}`));
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send(job);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      if (child.connected) child.disconnect();
      else child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}
