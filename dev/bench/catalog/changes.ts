/** Delivers observed states to whoever waits for a matching one, stamped with when it arrived. */
export class ArrivalBoard<T> {
  readonly #waiters = new Set<{ test: (value: T) => boolean; resolve: (at: number | undefined) => void }>();

  publish(value: T, at: number): void {
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test(value)) continue;
      this.#waiters.delete(waiter);
      waiter.resolve(at);
    }
  }

  /** Resolves with the arrival time of the first later state passing `test`, or undefined after `timeoutMs` or cancel(). */
  expect(test: (value: T) => boolean, timeoutMs: number): { arrived: Promise<number | undefined>; cancel(): void } {
    let cancel = (): void => undefined;
    const arrived = new Promise<number | undefined>((resolve) => {
      const waiter = {
        test,
        resolve: (at: number | undefined): void => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.#waiters.add(waiter);
      cancel = () => {
        this.#waiters.delete(waiter);
        waiter.resolve(undefined);
      };
    });
    return { arrived, cancel };
  }
}

/** One timed change: how long the write took to be acknowledged, and until the far side saw it. */
export interface ChangeSample {
  readonly writeMs: number;
  /** Undefined when the far side did not report it within the bound. */
  readonly propagationMs: number | undefined;
}

/** What a change does: the write (an HTTP call or a KV operation), and how to recognise its arrival. */
export interface ChangeSpec<T> {
  write(): Promise<void>;
  arrived(value: T): boolean;
}

/** Times one change from just before its write until `board` shows it (bounded by `timeoutMs`). */
export async function timeChange<T>(board: ArrivalBoard<T>, spec: ChangeSpec<T>, timeoutMs: number): Promise<ChangeSample> {
  const waiting = board.expect((value) => spec.arrived(value), timeoutMs);
  const start = performance.now();
  try {
    await spec.write();
  } catch (error) {
    waiting.cancel();
    throw error;
  }
  const writeMs = performance.now() - start;
  const at = await waiting.arrived;
  return { writeMs, propagationMs: at === undefined ? undefined : at - start };
}

/** Results of a run of sequential changes. */
export interface ChangeRun {
  readonly propagation: number[];
  readonly writes: number[];
  readonly timeouts: number;
  /** Changes whose write failed; the first few messages are kept. */
  readonly errors: number;
  readonly errorSamples: string[];
  /** Changes not attempted because the run's time bound was reached. */
  readonly skipped: number;
}

/**
 * Runs `warmup` then `count` changes one after another (each waits for its arrival), bounded in
 * count and in wall time; warm-up changes are not recorded.
 */
export async function runChanges<T>(options: {
  board: ArrivalBoard<T>;
  count: number;
  warmup: number;
  timeoutMs: number;
  deadlineMs: number;
  change: (index: number) => ChangeSpec<T>;
}): Promise<ChangeRun> {
  const run = { propagation: [] as number[], writes: [] as number[], timeouts: 0, errors: 0, errorSamples: [] as string[], skipped: 0 };
  const deadline = performance.now() + options.deadlineMs;
  const total = options.warmup + options.count;
  for (let index = 0; index < total; index++) {
    if (performance.now() > deadline) {
      run.skipped = total - index;
      break;
    }
    const counted = index >= options.warmup;
    try {
      const sample = await timeChange(options.board, options.change(index), options.timeoutMs);
      if (!counted) continue;
      run.writes.push(sample.writeMs);
      if (sample.propagationMs === undefined) run.timeouts++;
      else run.propagation.push(sample.propagationMs);
    } catch (error) {
      if (!counted) continue;
      run.errors++;
      if (run.errorSamples.length < 3) run.errorSamples.push((error as Error).message);
    }
  }
  return run;
}
