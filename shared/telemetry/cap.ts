import { Counter, type Registry } from 'prom-client';
import { MeridianError } from '../errors/index.js';

/*
 * Every label value Meridian puts on a metric comes from somewhere a user or a peer can grow
 * (service names in Host headers, sites, identities). Each label set is a series that lives for
 * the whole process and is written out on every scrape, so each metric holds at most a fixed
 * number of label sets: one agent flooded with random names must not grow its /metrics to tens
 * of megabytes and its memory with it.
 */

/** Label sets one metric holds at most unless the registry says otherwise (createRegistry's `maxSeriesPerMetric`). */
export const DEFAULT_MAX_SERIES_PER_METRIC = 1000;

/** The label value of the series that takes what did not get a series of its own. */
export const OVERFLOW_LABEL_VALUE = 'other';

const OVERFLOW_METRIC = 'meridian_metric_series_overflow_total';
const caps = new WeakMap<Registry, number>();

/** Sets the series cap of every metric on `registry` (see {@link DEFAULT_MAX_SERIES_PER_METRIC}). */
export function setSeriesCap(registry: Registry, max: number): void {
  if (!Number.isInteger(max) || max < 1) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `createRegistry: maxSeriesPerMetric must be a positive integer, got ${String(max)}`);
  }
  caps.set(registry, max);
}

/** The series cap of the metrics on `registry`. */
export function seriesCap(registry: Registry): number {
  return caps.get(registry) ?? DEFAULT_MAX_SERIES_PER_METRIC;
}

/**
 * `meridian_metric_series_overflow_total{metric}`: samples that got no series of their own
 * because their metric was at its cap. One per registry, looked up before it is created.
 */
export function seriesOverflow(registry: Registry): Counter<'metric'> {
  return perMetricCounter(registry, OVERFLOW_METRIC, 'Samples that got no series of their own because their metric holds its maximum of label sets: observations counted in the series labelled "other", or gauge readings left out of a scrape.');
}

/**
 * A registry-wide counter labelled by `metric`, shared by every metrics set on the registry (an
 * agent and a control service may share one): looked up before it is created.
 */
export function perMetricCounter(registry: Registry, name: string, help: string): Counter<'metric'> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames: ['metric'], registers: [registry] });
}

/**
 * Moves the overflow counter behind every metric registered so far. A scrape reads the metrics
 * in registration order, so a gauge that counts its left-out readings while it is collected must
 * come before the counter, or each scrape would show the previous scrape's count.
 */
export function overflowCountedAfter(registry: Registry): void {
  const counter = seriesOverflow(registry);
  registry.removeSingleMetric(OVERFLOW_METRIC);
  registry.registerMetric(counter);
}

/** Labels whose every value is {@link OVERFLOW_LABEL_VALUE}, except those in `keep`. */
export function overflowLabels<L extends string>(labelNames: readonly L[], keep: Partial<Record<L, string>> = {}): Record<L, string> {
  const labels = {} as Record<L, string>;
  for (const name of labelNames) labels[name] = keep[name] ?? OVERFLOW_LABEL_VALUE;
  return labels;
}

/** The identity of a label set, for counting distinct ones. */
export function labelKey<L extends string>(labelNames: readonly L[], labels: Readonly<Partial<Record<L, string>>>): string {
  return labelNames.map((name) => labels[name] ?? '').join('\u0000');
}
