import { execFile } from 'node:child_process';
import { findBinary } from '../../../test/support/servers/index.js';
import type { LoadGenerator } from './load.js';
import type { LoadTarget } from './load-types.js';

/** Closed-loop load: wrk's settings, used for the Node fallback too. */
export const SATURATION = { connections: 32, durationS: 5 } as const;

/** What one saturation run measured. */
export interface SaturationResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Non-2xx answers plus socket errors. */
  readonly failures: number;
}

/** The closed-loop generator: wrk when installed (Debian `wrk`), else the Node generator's closed loop. */
export interface Saturator {
  readonly tool: string;
  run(target: LoadTarget): Promise<SaturationResult>;
}

function millis(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** Reads wrk's summary (`--latency` output); throws with the output when it has no request rate. */
export function parseWrk(output: string): SaturationResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)?.[1];
  if (rps === undefined) throw new Error(`wrk printed no request rate:\n${output}`);
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(output);
    return match?.[1] === undefined || match[2] === undefined ? NaN : millis(match[1], match[2]);
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  return { rps: Number(rps), p50: percentile('50'), p99: percentile('99'), failures: non2xx + errors };
}

function wrkSaturator(binary: string): Saturator {
  return {
    tool: `wrk -t1 -c${SATURATION.connections} -d${SATURATION.durationS}s --latency`,
    run: (target) =>
      new Promise((resolve, reject) => {
        const args = ['-t1', `-c${SATURATION.connections}`, `-d${SATURATION.durationS}s`, '--latency', '-H', `Host: ${target.host}`, `http://127.0.0.1:${target.port}/`];
        // Bounded: wrk stops itself after -d; the timeout kills it if it hangs.
        execFile(binary, args, { timeout: (SATURATION.durationS + 10) * 1000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
          if (error !== null) return reject(new Error(`wrk failed: ${error.message}\n${stdout}${stderr}`));
          try {
            resolve(parseWrk(stdout));
          } catch (parseError) {
            reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
          }
        });
      }),
  };
}

function nodeSaturator(load: LoadGenerator): Saturator {
  return {
    tool: `Node closed loop (wrk not installed), ${SATURATION.connections} connections, ${SATURATION.durationS} s`,
    async run(target) {
      const result = await load.run({ kind: 'closed', target, connections: SATURATION.connections, warmupMs: 0, durationMs: SATURATION.durationS * 1000 });
      return { rps: result.achievedRps, p50: result.latency.p50, p99: result.latency.p99, failures: result.non2xx + result.errors };
    },
  };
}

/** wrk if it is installed, else the Node closed loop (which shares the machine's second core less well: it says so in the report). */
export function saturator(load: LoadGenerator): Saturator {
  try {
    return wrkSaturator(findBinary('wrk'));
  } catch {
    return nodeSaturator(load);
  }
}
