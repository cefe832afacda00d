/**
 * The benchmark's load generator, in its own process (forked with IPC) so the bench process's
 * timers and GC do not disturb it. One job at a time: the parent sends a {@link LoadJob}, the child
 * answers `measuring` when the measured phase starts (the parent samples /proc then) and `result`.
 */
import { Agent, request } from 'node:http';
import { quantile } from '../measure.js';
import type { ClosedLoopJob, LoadJob, LoadMessage, LoadResult, LoadTarget, OpenLoopJob, Quantiles } from './load-types.js';

const noop = (): void => undefined;

function post(message: LoadMessage): void {
  process.send?.(message);
}

function quantiles(values: readonly number[]): Quantiles {
  if (values.length === 0) return { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999), max: sorted[sorted.length - 1] ?? NaN };
}

type Done = (status: number, error?: Error) => void;

/** One GET with the keep-alive agent; `done` gets the status (0 on a transport error) exactly once, and a non-2xx answer's body start as the error. */
function get(agent: Agent, target: LoadTarget, done: Done): void {
  let settled = false;
  const settle: Done = (status, error) => {
    if (settled) return;
    settled = true;
    done(status, error);
  };
  const req = request({ agent, host: '127.0.0.1', port: target.port, path: '/', headers: { host: target.host } }, (res) => {
    const status = res.statusCode ?? 0;
    let body = '';
    if (status >= 200 && status < 300) res.on('data', noop);
    else res.on('data', (chunk: Buffer) => (body = `${body}${chunk.toString()}`.slice(0, 300)));
    res.on('end', () => settle(status, status >= 200 && status < 300 ? undefined : new Error(`${status} ${body}`)));
    res.on('error', (error) => settle(0, error));
  });
  req.on('error', (error) => settle(0, error));
  req.end();
}

/** The tally of one phase. */
class Tally {
  readonly latencies: number[] = [];
  readonly lags: number[] = [];
  ok = 0;
  non2xx = 0;
  errors = 0;
  unfinished = 0;
  lastAnswerAt = 0;
  firstError: string | undefined;
  firstNon2xx: string | undefined;

  record(status: number, latency: number, error?: Error): void {
    if (status === 0) {
      this.errors += 1;
      this.firstError ??= error?.message ?? 'transport error';
      return;
    }
    if (status >= 200 && status < 300) this.ok += 1;
    else {
      this.non2xx += 1;
      this.firstNon2xx ??= error?.message;
    }
    this.latencies.push(latency);
    this.lastAnswerAt = performance.now();
  }

  result(sent: number, startedAt: number): LoadResult {
    const seconds = (this.lastAnswerAt - startedAt) / 1000;
    return {
      sent,
      ok: this.ok,
      non2xx: this.non2xx,
      errors: this.errors,
      unfinished: this.unfinished,
      latency: quantiles(this.latencies),
      sendLag: quantiles(this.lags),
      achievedRps: seconds > 0 ? (this.ok + this.non2xx) / seconds : 0,
      ...(this.firstError === undefined ? {} : { firstError: this.firstError }),
      ...(this.firstNon2xx === undefined ? {} : { firstNon2xx: this.firstNon2xx }),
    };
  }
}

/**
 * Sends rate x duration requests, each at its due time (a timer wakes at the next due time and
 * sends everything due by then), and resolves once all answered or the drain bound passed.
 */
function openPhase(agent: Agent, job: OpenLoopJob, durationMs: number): Promise<LoadResult> {
  const total = Math.max(1, Math.round((job.rate * durationMs) / 1000));
  const interval = 1000 / job.rate;
  const startedAt = performance.now() + 1;
  const due = (i: number): number => startedAt + i * interval;
  const tally = new Tally();
  const pending = new Set<number>();
  let sent = 0;
  return new Promise((resolve) => {
    let closed = false;
    const finish = (): void => {
      if (closed) return;
      closed = true;
      const bound = performance.now();
      tally.unfinished = pending.size;
      for (const i of pending) tally.latencies.push(bound - due(i));
      resolve(tally.result(total, startedAt));
    };
    const tick = (): void => {
      const now = performance.now();
      for (; sent < total && due(sent) <= now; sent++) {
        const i = sent;
        tally.lags.push(now - due(i));
        pending.add(i);
        get(agent, job.target, (status, error) => {
          if (closed) return;
          pending.delete(i);
          tally.record(status, performance.now() - due(i), error);
          if (sent === total && pending.size === 0) finish();
        });
      }
      if (sent < total) setTimeout(tick, Math.max(0, due(sent) - performance.now()));
      else setTimeout(finish, Math.max(0, due(total) + job.drainMs - performance.now()));
    };
    setTimeout(tick, 1);
  });
}

async function openLoop(job: OpenLoopJob): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: job.maxSockets, maxFreeSockets: job.maxSockets });
  try {
    if (job.warmupMs > 0) await openPhase(agent, job, job.warmupMs);
    post({ type: 'measuring' });
    return await openPhase(agent, job, job.durationMs);
  } finally {
    agent.destroy();
  }
}

/** `connections` request loops until the phase ends; each loop waits for its answer before the next request. */
function closedPhase(agent: Agent, job: ClosedLoopJob, durationMs: number): Promise<LoadResult> {
  const tally = new Tally();
  const startedAt = performance.now();
  const endAt = startedAt + durationMs;
  let sent = 0;
  let running = job.connections;
  return new Promise((resolve) => {
    const loop = (): void => {
      if (performance.now() >= endAt) {
        if (--running === 0) resolve(tally.result(sent, startedAt));
        return;
      }
      const at = performance.now();
      sent += 1;
      get(agent, job.target, (status, error) => {
        tally.record(status, performance.now() - at, error);
        // An error answers at once: back off a little so a dead target does not spin the loop.
        if (status === 0) setTimeout(loop, 10);
        else loop();
      });
    };
    for (let c = 0; c < job.connections; c++) loop();
  });
}

async function closedLoop(job: ClosedLoopJob): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections, maxFreeSockets: job.connections });
  try {
    if (job.warmupMs > 0) await closedPhase(agent, job, job.warmupMs);
    post({ type: 'measuring' });
    return await closedPhase(agent, job, job.durationMs);
  } finally {
    agent.destroy();
  }
}

process.on('message', (job: LoadJob) => {
  const run = job.kind === 'open' ? openLoop(job) : closedLoop(job);
  run.then(
    (result) => post({ type: 'result', result }),
    (error: unknown) => post({ type: 'failed', error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
