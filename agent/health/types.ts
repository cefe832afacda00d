import type { HealthCheck } from '../../shared/catalog/definition.js';

export type { HealthCheck };

/** What a checker reports: `unknown` only until its first result. */
export type CheckState = 'passing' | 'critical' | 'unknown';

/** The two states a checker can flip to. */
export type DecidedState = Exclude<CheckState, 'unknown'>;

/** Why a checker flipped. */
export interface ChangeDetail {
  /** The reason of the result that caused the flip, e.g. `HTTP 503 from /healthz`. */
  readonly reason: string;
  /** How many results in a row pointed that way when it flipped. */
  readonly consecutive: number;
}

/** Called on every flip of a checker's state, never for a repeat of the current state. */
export type ChangeListener = (state: DecidedState, detail: ChangeDetail) => void;

/** One probe (or TTL event) result. */
export interface CheckResult {
  readonly ok: boolean;
  /** Human-readable outcome, e.g. `HTTP 200 from /healthz`, `timeout after 2000 ms`. */
  readonly reason: string;
  /** When the result was recorded, in the `now` clock's milliseconds (epoch by default). */
  readonly at: number;
  /** How long the probe took (monotonic clock); 0 for TTL events. */
  readonly durationMs: number;
}

/** Options of {@link startHealthCheck}. */
export interface HealthCheckOptions {
  /** The check from the service definition (validated by `ServiceDefinitionSchema`). */
  readonly check: HealthCheck;
  /** The instance's address: what http, tcp and grpc probes connect to. */
  readonly address: string;
  /** The instance's named ports; `check.port` may name one of them or give a number. */
  readonly ports: Readonly<Record<string, number>>;
  /** Called on each state flip. A listener that throws is reported as a process warning. */
  readonly onChange: ChangeListener;
  /** Wall clock for `lastResult.at` and TTL windows. Default `Date.now`. */
  readonly now?: () => number;
}

/** A running health check of one service instance. */
export interface HealthCheckHandle {
  /** Current state: `unknown` until the first result decides it. */
  readonly state: CheckState;
  /** The most recent result, or undefined before the first one. */
  readonly lastResult: CheckResult | undefined;
  /**
   * Records a pass of a `ttl` check, keeping it passing for another `ttl`. Throws
   * MERIDIAN_ERR_BAD_ARGUMENT for any other check type; a no-op after stop().
   */
  passTtl(): void;
  /**
   * Records a failure of a `ttl` check (Consul's `check/fail`): critical at once, until the next
   * pass. Throws MERIDIAN_ERR_BAD_ARGUMENT for any other check type; a no-op after stop().
   */
  failTtl(reason: string): void;
  /** Stops probing: clears timers, aborts an in-flight probe and closes clients. Idempotent. */
  stop(): void;
  /**
   * Probes now (a TTL check re-evaluates its window). Joins the in-flight probe instead of
   * starting a second one; resolves at once after stop().
   */
  runNow(): Promise<void>;
}

/** What a single probe found. Probes resolve with it and never reject. */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly reason: string;
}

/**
 * One active probe. `signal` aborts on timeout or stop; the probe must then release its
 * socket or call. `close` releases anything kept between probes (the gRPC channel).
 */
export interface Probe {
  run(signal: AbortSignal): Promise<ProbeOutcome>;
  close(): void;
}
