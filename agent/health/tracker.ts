import { MeridianError } from '../../shared/errors/index.js';
import type { ChangeListener, CheckResult, CheckState } from './types.js';

/** Thresholds of a {@link StateTracker}. */
export interface Thresholds {
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

/**
 * Turns a stream of results into state flips. Passing needs `healthyThreshold` successes in a
 * row and critical needs `unhealthyThreshold` failures in a row, except out of `unknown`: there
 * the first result decides either way, because a freshly registered instance should reach the
 * catalog as passing or critical within one interval rather than sit in `unknown` for
 * `threshold × interval`.
 */
export class StateTracker {
  #state: CheckState = 'unknown';
  #last: CheckResult | undefined;
  #successes = 0;
  #failures = 0;

  constructor(
    private readonly thresholds: Thresholds,
    private readonly onChange: ChangeListener,
  ) {}

  get state(): CheckState {
    return this.#state;
  }

  get lastResult(): CheckResult | undefined {
    return this.#last;
  }

  /** Records one result and calls the listener if the state flips. */
  record(result: CheckResult): void {
    this.#last = result;
    if (result.ok) {
      this.#successes += 1;
      this.#failures = 0;
      if (this.#state !== 'passing' && (this.#state === 'unknown' || this.#successes >= this.thresholds.healthyThreshold)) {
        this.#flip('passing', result.reason, this.#successes);
      }
    } else {
      this.#failures += 1;
      this.#successes = 0;
      if (this.#state !== 'critical' && (this.#state === 'unknown' || this.#failures >= this.thresholds.unhealthyThreshold)) {
        this.#flip('critical', result.reason, this.#failures);
      }
    }
  }

  #flip(state: 'passing' | 'critical', reason: string, consecutive: number): void {
    this.#state = state;
    try {
      this.onChange(state, { reason, consecutive });
    } catch (err) {
      // A faulty listener must not stop the checker, nor surface as an unhandled rejection of
      // a timer-driven probe; a warning keeps it visible.
      process.emitWarning(err instanceof Error ? err : new MeridianError('MERIDIAN_ERR_INTERNAL', String(err)), { code: 'MERIDIAN_HEALTH_LISTENER' });
    }
  }
}
