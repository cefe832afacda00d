import { MeridianError } from '../../../shared/errors/index.js';

/** Passive outlier detection. */
export interface OutlierOptions {
  /** Connect or TLS failures in a row that eject an instance. Default 1. */
  readonly consecutiveConnectFailures: number;
  /** 5xx responses in a row that eject an instance. Default 5. */
  readonly consecutive5xx: number;
  /** First ejection; each repeat adds as much again. Default 1 s. */
  readonly baseEjectionMs: number;
  /** Longest ejection. Default 30 s. */
  readonly maxEjectionMs: number;
}

/** Defaults, in the spirit of the tightened Envoy recipes (1 error / 1 s) rather than Envoy's own 10 s+. */
export const DEFAULT_OUTLIER: OutlierOptions = { consecutiveConnectFailures: 1, consecutive5xx: 5, baseEjectionMs: 1000, maxEjectionMs: 30_000 };

export function resolveOutlier(given: Partial<OutlierOptions> | undefined): OutlierOptions {
  const options = { ...DEFAULT_OUTLIER, ...given };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value < 1) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `outlier.${name} must be a number ≥ 1 (got ${String(value)})`);
    }
  }
  return options;
}

interface InstanceState {
  inflight: number;
  connectFailures: number;
  serverErrors: number;
  /** Ejections so far; each makes the next one longer. */
  ejections: number;
  ejectedUntil: number;
}

/**
 * Per-instance load and passive health: in-flight requests (for least-request), and ejection
 * after consecutive connect failures or 5xx responses, for base × n (capped), n growing with
 * each repeat and reset once the instance behaves for a whole max-ejection period.
 */
export class InstanceHealth {
  private readonly states = new Map<string, InstanceState>();

  constructor(
    private readonly options: OutlierOptions,
    private readonly now: () => number,
  ) {}

  inflight(id: string): number {
    return this.states.get(id)?.inflight ?? 0;
  }

  isEjected(id: string): boolean {
    return (this.states.get(id)?.ejectedUntil ?? 0) > this.now();
  }

  begin(id: string): void {
    this.state(id).inflight += 1;
  }

  end(id: string): void {
    const state = this.state(id);
    state.inflight = Math.max(0, state.inflight - 1);
    this.prune(id, state);
  }

  connectFailed(id: string): void {
    const state = this.state(id);
    state.connectFailures += 1;
    if (state.connectFailures >= this.options.consecutiveConnectFailures) this.eject(state);
  }

  /** The instance said it can't serve (its app refused the connection): ejected now, whatever the thresholds. */
  unusable(id: string): void {
    this.eject(this.state(id));
  }

  connected(id: string): void {
    this.state(id).connectFailures = 0;
  }

  /** An upstream response (or a reset, reported as 502). */
  responded(id: string, status: number): void {
    const state = this.state(id);
    if (status < 500) {
      state.serverErrors = 0;
      return;
    }
    state.serverErrors += 1;
    if (state.serverErrors >= this.options.consecutive5xx) this.eject(state);
  }

  private eject(state: InstanceState): void {
    const now = this.now();
    // A clean record for a whole max-ejection period forgives earlier ejections.
    if (state.ejectedUntil + this.options.maxEjectionMs < now) state.ejections = 0;
    state.ejections += 1;
    state.ejectedUntil = now + Math.min(this.options.baseEjectionMs * state.ejections, this.options.maxEjectionMs);
    state.connectFailures = 0;
    state.serverErrors = 0;
  }

  private state(id: string): InstanceState {
    let state = this.states.get(id);
    if (state === undefined) {
      state = { inflight: 0, connectFailures: 0, serverErrors: 0, ejections: 0, ejectedUntil: 0 };
      this.states.set(id, state);
    }
    return state;
  }

  /** Forgets instances with nothing to remember, so departed instances don't accumulate. */
  private prune(id: string, state: InstanceState): void {
    const forgiven = state.ejectedUntil + this.options.maxEjectionMs < this.now();
    if (state.inflight === 0 && state.connectFailures === 0 && state.serverErrors === 0 && forgiven) this.states.delete(id);
  }
}
