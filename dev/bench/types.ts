/** One benchmark result row; `baseline` and `ratio` are set where the case runs a baseline beside it. */
export interface BenchRow {
  readonly case: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: string;
  readonly baselineValue?: number;
  /** value / baselineValue. */
  readonly ratio?: number;
  readonly target?: string;
  readonly note?: string;
}

/** A benchmark case: runs itself and its baseline in the same process run and returns rows. */
export interface BenchCase {
  readonly name: string;
  readonly description: string;
  run(): Promise<BenchRow[]>;
}
