/** Median of a list of numbers (the benchmarks report medians of several rounds: the machines are noisy). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** Value at quantile q (0..1) by nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** Operations per CPU-second of this process: a per-core rate, whatever else the machine runs. */
export function ratePerCpuSecond(count: number, work: () => void): { perCpuSecond: number; perWallSecond: number } {
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();
  work();
  const cpu = process.cpuUsage(cpuBefore);
  const wallSeconds = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { perCpuSecond: count / cpuSeconds, perWallSecond: count / wallSeconds };
}
