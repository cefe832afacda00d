import { performance } from 'node:perf_hooks';
import { MeridianError } from '../../shared/errors/index.js';
import { describeError, timeoutReason } from './reasons.js';
import { StateTracker } from './tracker.js';
import type { ActiveTiming } from './resolve.js';
import type { ChangeListener, CheckResult, CheckState, HealthCheckHandle, Probe, ProbeOutcome } from './types.js';

/** What an {@link ActiveCheck} needs besides its probe. */
export interface ActiveCheckOptions {
  /** The check type, for error messages. */
  readonly type: 'http' | 'tcp' | 'grpc';
  readonly probe: Probe;
  readonly timing: ActiveTiming;
  readonly onChange: ChangeListener;
  readonly now: () => number;
}

/**
 * Runs a probe at once and then every interval. A probe still running when the interval fires
 * makes that tick a no-op, so a slow instance never has probes piling up on it. The timer is
 * unref'd: a checker alone never keeps the process alive.
 */
export class ActiveCheck implements HealthCheckHandle {
  readonly #type: ActiveCheckOptions['type'];
  readonly #probe: Probe;
  readonly #timing: ActiveTiming;
  readonly #now: () => number;
  readonly #tracker: StateTracker;
  readonly #timer: NodeJS.Timeout;
  #inFlight: { promise: Promise<void>; abort: AbortController } | undefined;
  #stopped = false;

  constructor(options: ActiveCheckOptions) {
    this.#type = options.type;
    this.#probe = options.probe;
    this.#timing = options.timing;
    this.#now = options.now;
    this.#tracker = new StateTracker(options.timing, options.onChange);
    this.#timer = setInterval(() => void this.runNow(), options.timing.intervalMs).unref();
    void this.runNow();
  }

  get state(): CheckState {
    return this.#tracker.state;
  }

  get lastResult(): CheckResult | undefined {
    return this.#tracker.lastResult;
  }

  passTtl(): void {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `passTtl: the check is of type ${this.#type}; only a check of type ttl can be passed`);
  }

  failTtl(): void {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `failTtl: the check is of type ${this.#type}; only a check of type ttl can be failed`);
  }

  runNow(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#inFlight) return this.#inFlight.promise;
    const abort = new AbortController();
    const promise = this.#probeOnce(abort).finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = { promise, abort };
    return promise;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#inFlight?.abort.abort(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', 'health check stopped'));
    this.#probe.close();
  }

  async #probeOnce(abort: AbortController): Promise<void> {
    const started = performance.now();
    const outcome = await withDeadline(this.#probe, abort, this.#timing.timeoutMs);
    // A result that lands after stop() belongs to a checker nobody listens to any more.
    if (this.#stopped) return;
    try {
      this.#tracker.record({ ...outcome, at: this.#now(), durationMs: Math.round(performance.now() - started) });
    } catch (err) {
      // Only an injected clock can throw here; timer-driven probes must never reject.
      process.emitWarning(err instanceof Error ? err : new MeridianError('MERIDIAN_ERR_INTERNAL', String(err)), { code: 'MERIDIAN_HEALTH_CLOCK' });
    }
  }
}

/**
 * Runs the probe with its own deadline rather than trusting each protocol's timeout knobs:
 * the result is a timeout at `timeoutMs` even if a probe is slow to honour the abort.
 * Never rejects.
 */
function withDeadline(probe: Probe, abort: AbortController, timeoutMs: number): Promise<ProbeOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ProbeOutcome>((resolve) => {
    timer = setTimeout(() => {
      abort.abort(new MeridianError('MERIDIAN_ERR_TIMEOUT', timeoutReason(timeoutMs)));
      resolve({ ok: false, reason: timeoutReason(timeoutMs) });
    }, timeoutMs).unref();
  });
  const probed = probe.run(abort.signal).catch((err: unknown) => ({ ok: false, reason: describeError(err) }));
  return Promise.race([probed, deadline]).finally(() => clearTimeout(timer));
}
