import { Counter, Gauge, type Registry } from 'prom-client';
import type { PolicyReport } from '../policy/index.js';
import type { CatalogSiteStatus, CertificateStatus, FailoverStatus } from '../status/index.js';
import { labelKey, overflowCountedAfter, perMetricCounter, seriesCap, seriesOverflow } from './cap.js';

/*
 * Collect-time metrics: values that already live elsewhere (certificates, the catalog view, the
 * balancers, a gateway's links) are read when Prometheus scrapes, instead of being pushed on
 * every change, so the metrics can never drift from what the status API reports.
 */

/** The certificate fields the expiry gauge reads (a CertificateStatus fits). */
export type CertificateSample = Pick<CertificateStatus, 'role' | 'identity' | 'notAfter'>;
/** The catalog row fields the catalog gauges read (a CatalogSiteStatus fits). */
export type CatalogSample = Pick<CatalogSiteStatus, 'site' | 'instances' | 'ageMs' | 'stale' | 'syncLagMs'>;
/** The failover fields the failover gauge reads (a FailoverStatus fits). */
export type FailoverSample = Pick<FailoverStatus, 'service' | 'fromSite' | 'toSite'>;

const COLLECT_ERRORS = 'meridian_metrics_collect_errors_total';

/** The counter of callbacks that threw during a scrape. */
export function collectErrors(registry: Registry): Counter<'metric'> {
  return perMetricCounter(registry, COLLECT_ERRORS, 'Metric callbacks that threw while a scrape collected them; the metric is left empty for that scrape.');
}

/** What a collected gauge's callback sets this scrape's readings through. */
export interface GaugeReadings<L extends string> {
  /** One labelled reading; past the metric's series cap it is left out (and counted). */
  set(labels: Readonly<Record<L, string>>, value: number): void;
  /** The reading of a gauge without labels. */
  set(value: number): void;
}

/** Definition of a gauge whose series are rebuilt from a callback on every scrape. */
export interface CollectedGauge<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Sets this scrape's series; the gauge was reset just before, so vanished series disappear. */
  readonly fill: (gauge: GaugeReadings<L>) => void;
}

/** One scrape's readings of `gauge`: the first `cap` label sets are set, the others counted in `dropped`. */
function cappedReadings<L extends string>(gauge: Gauge<L>, labelNames: readonly L[], cap: number): GaugeReadings<L> & { readonly dropped: number } {
  const seen = new Set<string>();
  let dropped = 0;
  return {
    get dropped() {
      return dropped;
    },
    set: (labelsOrValue: Readonly<Record<L, string>> | number, value?: number) => {
      if (typeof labelsOrValue === 'number') return gauge.set(labelsOrValue);
      const key = labelKey(labelNames, labelsOrValue);
      if (!seen.has(key) && seen.size >= cap) {
        dropped++;
        return;
      }
      seen.add(key);
      gauge.set(labelsOrValue, value ?? 0);
    },
  };
}

/**
 * Registers a gauge filled at collect time. A throwing callback must not fail the whole scrape
 * (every other metric of the process would go missing), so its gauge is emptied and the error
 * counted. Readings past the registry's series cap are left out of the scrape and counted in
 * `meridian_metric_series_overflow_total`: a gauge's value can't be summed into an "other" series.
 */
export function collectedGauge<L extends string>(registry: Registry, def: CollectedGauge<L>): Gauge<L> {
  const errors = collectErrors(registry);
  const overflow = seriesOverflow(registry);
  const cap = seriesCap(registry);
  const gauge = new Gauge<L>({
    name: def.name,
    help: def.help,
    labelNames: def.labelNames,
    registers: [registry],
    collect(this: Gauge<L>) {
      this.reset();
      const readings = cappedReadings(this, def.labelNames, cap);
      try {
        def.fill(readings);
      } catch {
        this.reset();
        errors.inc({ metric: def.name });
        return;
      }
      if (readings.dropped > 0) overflow.inc({ metric: def.name }, readings.dropped);
    },
  });
  overflowCountedAfter(registry);
  return gauge;
}

/** One series of a cumulative figure read from elsewhere, and its current value. */
export interface CumulativeReading<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  readonly value: number;
}

/** Definition of a counter fed from cumulative figures at collect time. */
export interface CumulativeCounter<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly read: () => readonly CumulativeReading<L>[];
}

/**
 * Registers a counter whose value is a cumulative figure kept elsewhere (a link's bytes, a
 * gateway's stream total). prom-client counters can only be incremented, so each scrape adds the
 * growth since the last one; a figure that went down (a restarted source) is held at its maximum
 * so the counter never decreases. Series past the registry's cap are left out and counted.
 */
export function cumulativeCounter<L extends string>(registry: Registry, def: CumulativeCounter<L>): Counter<L> {
  const errors = collectErrors(registry);
  const overflow = seriesOverflow(registry);
  const cap = seriesCap(registry);
  const seen = new Map<string, number>();
  const counter = new Counter<L>({
    name: def.name,
    help: def.help,
    labelNames: def.labelNames,
    registers: [registry],
    collect(this: Counter<L>) {
      let readings: readonly CumulativeReading<L>[];
      try {
        readings = def.read();
      } catch {
        errors.inc({ metric: def.name });
        return;
      }
      let dropped = 0;
      for (const { labels, value } of readings) {
        if (!Number.isFinite(value)) continue;
        const key = labelKey(def.labelNames, labels);
        const previous = seen.get(key);
        if (previous === undefined && seen.size >= cap) {
          dropped++;
          continue;
        }
        // inc(0) on first sight still creates the series, so a zero shows as 0, not as absent.
        this.inc(labels as Partial<Record<L, string>>, Math.max(0, value - (previous ?? 0)));
        seen.set(key, Math.max(previous ?? 0, value));
      }
      if (dropped > 0) overflow.inc({ metric: def.name }, dropped);
    },
  });
  overflowCountedAfter(registry);
  return counter;
}

/** `meridian_certificate_expiry_timestamp_seconds{role, identity}`: the notAfter of each certificate. */
export function certificateGauge(registry: Registry, certificates: () => readonly CertificateSample[]): Gauge<'role' | 'identity'> {
  return collectedGauge(registry, {
    name: 'meridian_certificate_expiry_timestamp_seconds',
    help: 'Expiry (notAfter) of each certificate the process presents, as a Unix timestamp in seconds.',
    labelNames: ['role', 'identity'],
    fill: (gauge) => {
      for (const cert of certificates()) {
        const ms = Date.parse(cert.notAfter);
        if (Number.isFinite(ms)) gauge.set({ role: cert.role, identity: cert.identity }, ms / 1000);
      }
    },
  });
}

/** The catalog gauges, one series per remote site: sync lag, staleness, instances, stale flag. */
export function catalogGauges(registry: Registry, catalog: () => readonly CatalogSample[]): void {
  // The callback runs once per gauge; it reads an in-memory view, so that is cheaper than caching.
  const perSite = (name: string, help: string, value: (row: CatalogSample) => number | null): void => {
    collectedGauge(registry, {
      name,
      help,
      labelNames: ['remote_site'],
      fill: (gauge) => {
        for (const row of catalog()) {
          const v = value(row);
          if (v !== null) gauge.set({ remote_site: row.site }, v);
        }
      },
    });
  };
  perSite('meridian_catalog_sync_lag_seconds', "Transit time of the remote site's latest lease renewal to this site; absent before one arrived live.", (r) =>
    r.syncLagMs === null ? null : r.syncLagMs / 1000,
  );
  perSite('meridian_catalog_staleness_seconds', 'Seconds since anything arrived from the remote site; absent before the first message.', (r) =>
    r.ageMs === null ? null : r.ageMs / 1000,
  );
  perSite('meridian_catalog_instances', "Instances of the remote site in this site's catalog view (stale ones included).", (r) => r.instances);
  perSite('meridian_catalog_stale', "1 while the remote site's catalog entries are stale (contact lost), else 0.", (r) => (r.stale ? 1 : 0));
}

/**
 * `meridian_policy_version` = the policy version this process enforces (0 while none is published:
 * versions start at 1), one series whatever the version, so `min by (site)` finds a site lagging;
 * `meridian_policy_rejections_total` counts the versions it refused to enforce.
 */
export function policyMetrics(registry: Registry, policy: () => PolicyReport): void {
  collectedGauge(registry, {
    name: 'meridian_policy_version',
    help: 'The policy set version this process enforces (the federation policy stream sequence); 0 while none is published.',
    labelNames: [],
    fill: (gauge) => gauge.set(policy().version ?? 0),
  });
  // The follower reports the newest refused version only: each new one seen at a scrape counts once.
  let refused = 0;
  let lastRefused: number | null = null;
  cumulativeCounter(registry, {
    name: 'meridian_policy_rejections_total',
    help: 'Policy versions this process refused to enforce (a set it could not parse; it kept its version), since it started.',
    labelNames: [],
    read: () => {
      const rejected = policy().rejected;
      if (rejected !== null && rejected.version !== lastRefused) {
        lastRefused = rejected.version;
        refused++;
      }
      return [{ labels: {}, value: refused }];
    },
  });
}

/** `meridian_failover_active{service, from_site, to_site}` = 1 for each service served from another site now. */
export function failoverGauge(registry: Registry, failovers: () => readonly FailoverSample[]): Gauge<'service' | 'from_site' | 'to_site'> {
  return collectedGauge(registry, {
    name: 'meridian_failover_active',
    help: "1 for each service whose calls are currently served from another site than the caller's.",
    labelNames: ['service', 'from_site', 'to_site'],
    fill: (gauge) => {
      for (const f of failovers()) gauge.set({ service: f.service, from_site: f.fromSite, to_site: f.toSite }, 1);
    },
  });
}
