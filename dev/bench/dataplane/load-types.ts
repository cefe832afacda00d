/** Where the load goes: a plain-HTTP port on 127.0.0.1 and the Host header to send (`<service>.mesh` through an agent). */
export interface LoadTarget {
  readonly port: number;
  readonly host: string;
}

/**
 * An open-loop run: request i is due at start + i / rate whatever happened to the earlier ones,
 * and its latency is counted from that due time (no coordinated omission).
 */
export interface OpenLoopJob {
  readonly kind: 'open';
  readonly target: LoadTarget;
  readonly rate: number;
  /** Same rate, results dropped: JIT, pooled connections and sessions warm up. */
  readonly warmupMs: number;
  readonly durationMs: number;
  /** After the last due time, how long answers are waited for; later ones count as unfinished. */
  readonly drainMs: number;
  /** Keep-alive sockets the generator may open; requests beyond wait in the agent's queue, still timed from their due time. */
  readonly maxSockets: number;
}

/** A closed-loop run (the fallback when wrk is missing): `connections` loops, each sends its next request when the last one answered. */
export interface ClosedLoopJob {
  readonly kind: 'closed';
  readonly target: LoadTarget;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export type LoadJob = OpenLoopJob | ClosedLoopJob;

/** Latency quantiles in milliseconds. */
export interface Quantiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** What one measured run did. */
export interface LoadResult {
  /** Requests due (open loop) or sent (closed loop) in the measured phase. */
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Not answered within the drain bound: counted in the latency quantiles at the bound. */
  readonly unfinished: number;
  /** Over answered (2xx or not) and unfinished requests; errors are counted apart. */
  readonly latency: Quantiles;
  /** Open loop: how late the generator itself sent (its timer granularity and event-loop stalls), already inside `latency`. */
  readonly sendLag: Quantiles;
  /** Answers per second over the measured phase. */
  readonly achievedRps: number;
  readonly firstError?: string;
  /** Status and body start of the first non-2xx answer. */
  readonly firstNon2xx?: string;
}

/** Child -> parent messages. */
export type LoadMessage = { readonly type: 'measuring' } | { readonly type: 'result'; readonly result: LoadResult } | { readonly type: 'failed'; readonly error: string };
