import type { ChangeListener, DecidedState } from '../../agent/health/index.js';

/** One onChange call, with anything the test snapshots at that moment. */
export interface RecordedChange {
  readonly state: DecidedState;
  readonly reason: string;
  readonly consecutive: number;
  readonly snapshot: number;
}

/** Collects onChange calls; `snapshot` is taken inside the call (e.g. a server's hit count). */
export function recordChanges(snapshot: () => number = () => 0): { changes: RecordedChange[]; onChange: ChangeListener } {
  const changes: RecordedChange[] = [];
  return {
    changes,
    onChange: (state, detail) => changes.push({ state, reason: detail.reason, consecutive: detail.consecutive, snapshot: snapshot() }),
  };
}
