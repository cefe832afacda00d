import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MeridianError } from '../errors/index.js';
import type { LinkStatusRecord } from '../status/index.js';
import type { PolicyReport } from '../policy/index.js';
import {
  catalogGauges,
  certificateGauge,
  collectedGauge,
  cumulativeCounter,
  failoverGauge,
  policyMetrics,
  type CatalogSample,
  type CertificateSample,
  type FailoverSample,
} from './collectors.js';
import { overflowLabels, seriesCap, seriesOverflow, setSeriesCap } from './cap.js';

/** The kinds of Meridian process that expose metrics. */
export type MetricsRole = 'agent' | 'gateway' | 'control';

/** Who a registry's metrics come from; every series carries these as default labels. */
export interface RegistryLabels {
  readonly role: MetricsRole;
  readonly site: string;
  /** Node name (agent), gateway name, or the site name (control service). */
  readonly name: string;
}

/** Options of {@link createRegistry}. */
export interface RegistryOptions {
  /** Node.js process metrics (CPU, memory, event loop, GC) under their standard names. Default true. */
  readonly processMetrics?: boolean;
  /** Label sets each Meridian metric holds at most (see cap.ts). Default {@link DEFAULT_MAX_SERIES_PER_METRIC}. */
  readonly maxSeriesPerMetric?: number;
}

const ROLES: readonly MetricsRole[] = ['agent', 'gateway', 'control'];

/**
 * prom-client's default gauges that `promtool check metrics` rejects (a gauge must not end in
 * `_total`). Each is the sum of its per-type twin (`nodejs_active_handles{type}`...), so nothing
 * is lost: `sum without (type) (nodejs_active_handles)` gives the total.
 */
const LINT_FAILING_DEFAULTS: readonly string[] = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * A fresh prom-client registry whose series all carry `component` (the role), `site` and `name`.
 * The role goes into `component`, not `role`, because certificate metrics have a `role` label of
 * their own. Process metrics keep their standard names (`process_*`, `nodejs_*`, no prefix) so
 * stock Node.js dashboards work, minus the three that fail promtool's lint; the default labels
 * tell processes apart.
 */
export function createRegistry(labels: RegistryLabels, options: RegistryOptions = {}): Registry {
  if (!ROLES.includes(labels.role)) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `createRegistry: role must be one of ${ROLES.join(', ')}, got ${String(labels.role)}`);
  }
  for (const field of ['site', 'name'] as const) {
    if (typeof labels[field] !== 'string' || labels[field] === '') {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `createRegistry: ${field} must be a non-empty string`);
    }
  }
  const registry = new Registry();
  if (options.maxSeriesPerMetric !== undefined) setSeriesCap(registry, options.maxSeriesPerMetric);
  registry.setDefaultLabels({ component: labels.role, site: labels.site, name: labels.name });
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  }
  return registry;
}

/** What the request metrics read from a finished request (an agent proxy's RequestRecord fits). */
export interface RequestSample {
  readonly direction: 'outbound' | 'inbound';
  /** The local service: the caller (outbound) or the callee (inbound). */
  readonly service: string;
  readonly peerService: string;
  /** '' when no instance answered (outbound). */
  readonly peerSite: string;
  readonly protocol: 'http' | 'tcp';
  /** HTTP status; 0 when reset before a response, and for TCP. */
  readonly status: number;
  readonly durationMs: number;
}

/** Collect-time sources shared by the agent and the control service; each is optional. */
export interface StateSources {
  readonly certificates?: () => readonly CertificateSample[];
  readonly catalog?: () => readonly CatalogSample[];
  /** The policy version enforced and the last one refused (the process's policy follower). */
  readonly policy?: () => PolicyReport;
}

/** Options of {@link AgentMetrics}: the agent's site and its collect-time sources. */
export interface AgentMetricsOptions extends StateSources {
  /** The agent's own site: the source of outbound records, the destination of inbound ones. */
  readonly site: string;
  readonly failovers?: () => readonly FailoverSample[];
}

/** Latency buckets for a proxy: from sub-millisecond local hops to the 10 s a slow upstream may take. */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type RequestLabel = 'reporter' | 'source_site' | 'source_service' | 'destination_site' | 'destination_service';
const REQUEST_LABELS: readonly RequestLabel[] = ['reporter', 'source_site', 'source_service', 'destination_site', 'destination_service'];

/** The label-bound children of one (direction, peers, code) combination. */
interface BoundRequest {
  readonly count: { inc(): void };
  readonly duration: { observe(value: number): void };
}

/**
 * An agent's metrics: requests by source and destination site and service and response code, their
 * durations, and collect-time gauges for certificates, the catalog, the policy version and failovers.
 * The request metrics hold at most the registry's series cap of label sets; requests past it are
 * counted in one series per reporter whose other labels are all "other", so sums stay exact.
 */
export class AgentMetrics {
  readonly registry: Registry;
  readonly #site: string;
  readonly #requests: Counter<RequestLabel | 'code'>;
  readonly #durations: Histogram<RequestLabel>;
  // observe() runs once per proxied request: label-bound children are built once per combination.
  readonly #bound = new Map<string, BoundRequest>();
  readonly #cap: number;
  readonly #overflow: { readonly outbound: BoundRequest; readonly inbound: BoundRequest };

  constructor(registry: Registry, options: AgentMetricsOptions) {
    if (typeof options.site !== 'string' || options.site === '') {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', 'AgentMetrics: site must be a non-empty string');
    }
    this.registry = registry;
    this.#site = options.site;
    this.#cap = seriesCap(registry);
    this.#requests = new Counter({
      name: 'meridian_requests_total',
      help: 'Finished requests (and TCP connections, code "0") by source and destination site and service and response code; reporter says which side counted.',
      labelNames: [...REQUEST_LABELS, 'code'],
      registers: [registry],
    });
    this.#durations = new Histogram({
      name: 'meridian_request_duration_seconds',
      help: 'Time from a request arriving at the proxy to its response closing, by source and destination.',
      labelNames: REQUEST_LABELS,
      buckets: [...REQUEST_DURATION_BUCKETS],
      registers: [registry],
    });
    this.#overflow = { outbound: this.#overflowBound('source'), inbound: this.#overflowBound('destination') };
    registerStateGauges(registry, options);
    if (options.failovers) failoverGauge(registry, options.failovers);
  }

  /** Records one finished request; pass it as the proxies' `onRequest`. Cheap, never throws. */
  readonly observe = (record: RequestSample): void => {
    const { direction, service, peerService, peerSite, status } = record;
    const key = `${direction}\u0000${service}\u0000${peerService}\u0000${peerSite}\u0000${status}`;
    let bound = this.#bound.get(key);
    if (bound === undefined) {
      // Past the cap the combination is not remembered either: the map is as bounded as the metric.
      bound = this.#bound.size < this.#cap ? this.#bind(record) : this.#overflow[direction];
      if (bound !== this.#overflow[direction]) this.#bound.set(key, bound);
    }
    bound.count.inc();
    const seconds = record.durationMs / 1000;
    bound.duration.observe(Number.isFinite(seconds) && seconds > 0 ? seconds : 0);
  };

  #bind(record: RequestSample): BoundRequest {
    // An outbound request that no instance answered has no peer site: say so instead of an empty label.
    const peerSite = record.peerSite === '' ? 'unknown' : record.peerSite;
    const local = { site: this.#site, service: record.service };
    const peer = { site: peerSite, service: record.peerService };
    const [source, destination] = record.direction === 'outbound' ? [local, peer] : [peer, local];
    const labels = {
      reporter: record.direction === 'outbound' ? 'source' : 'destination',
      source_site: source.site,
      source_service: source.service,
      destination_site: destination.site,
      destination_service: destination.service,
    };
    return {
      count: this.#requests.labels({ ...labels, code: String(record.status) }),
      duration: this.#durations.labels(labels),
    };
  }

  /** The series that takes one reporter's requests past the cap, counting each in the overflow counter too. */
  #overflowBound(reporter: 'source' | 'destination'): BoundRequest {
    const labels = overflowLabels(REQUEST_LABELS, { reporter });
    const count = this.#requests.labels({ ...labels, code: 'other' });
    const duration = this.#durations.labels(labels);
    const overflow = seriesOverflow(this.registry);
    const countsOverflow = overflow.labels({ metric: 'meridian_requests_total' });
    const durationsOverflow = overflow.labels({ metric: 'meridian_request_duration_seconds' });
    return {
      count: { inc: () => (count.inc(), countsOverflow.inc()) },
      duration: { observe: (value) => (duration.observe(value), durationsOverflow.inc()) },
    };
  }
}

/**
 * A control service's metrics: its certificates, the federation's catalog as its site sees it,
 * and the policy version it distributes.
 */
export class ControlMetrics {
  readonly registry: Registry;

  constructor(registry: Registry, sources: StateSources) {
    this.registry = registry;
    registerStateGauges(registry, sources);
  }
}

function registerStateGauges(registry: Registry, sources: StateSources): void {
  if (sources.certificates) certificateGauge(registry, sources.certificates);
  if (sources.catalog) catalogGauges(registry, sources.catalog);
  if (sources.policy) policyMetrics(registry, sources.policy);
}

/** What the tunnel metrics read from a link (a LinkStatusRecord fits). */
export type LinkSample = Pick<LinkStatusRecord, 'peerSite' | 'state' | 'rttMs' | 'bytesIn' | 'bytesOut' | 'streams'>;

/** A gateway's counters since it started. */
export interface GatewayStatsSample {
  readonly streamsActive: number;
  readonly streamsTotal: number;
  /** Streams refused (unexported service, unknown instance, foreign identity). */
  readonly rejections: number;
}

/** Collect-time sources of a gateway's metrics. */
export interface GatewayMetricsSources {
  readonly links: () => readonly LinkSample[];
  readonly stats: () => GatewayStatsSample;
  readonly certificates?: () => readonly CertificateSample[];
  /** The policy version enforced and the last one refused (the gateway's policy follower). */
  readonly policy?: () => PolicyReport;
}

const LINK_STATES: readonly LinkSample['state'][] = ['up', 'connecting', 'down'];

/** A gateway's metrics: per-tunnel state, RTT, bytes and streams, gateway stream counters, certificates, policy version. */
export class GatewayMetrics {
  readonly registry: Registry;

  constructor(registry: Registry, sources: GatewayMetricsSources) {
    this.registry = registry;
    registerLinkGauges(registry, sources.links);
    cumulativeCounter(registry, {
      name: 'meridian_tunnel_bytes_total',
      help: 'Bytes received from (in) and sent to (out) the remote gateway over every stream of the tunnel.',
      labelNames: ['peer_site', 'direction'],
      read: () =>
        sources.links().flatMap((l) => [
          { labels: { peer_site: l.peerSite, direction: 'in' }, value: l.bytesIn },
          { labels: { peer_site: l.peerSite, direction: 'out' }, value: l.bytesOut },
        ]),
    });
    registerGatewayCounters(registry, sources.stats);
    if (sources.certificates) certificateGauge(registry, sources.certificates);
    if (sources.policy) policyMetrics(registry, sources.policy);
  }
}

function registerLinkGauges(registry: Registry, links: () => readonly LinkSample[]): void {
  const perLink = (name: string, help: string, value: (link: LinkSample) => number | null): void => {
    collectedGauge(registry, {
      name,
      help,
      labelNames: ['peer_site'],
      fill: (gauge) => {
        for (const link of links()) {
          const v = value(link);
          if (v !== null) gauge.set({ peer_site: link.peerSite }, v);
        }
      },
    });
  };
  perLink('meridian_tunnel_up', '1 while the tunnel to the remote site is up (handshake done, heartbeat answered), else 0.', (l) => (l.state === 'up' ? 1 : 0));
  perLink('meridian_tunnel_rtt_seconds', 'Round-trip time of the last answered heartbeat; absent before the first.', (l) => (l.rttMs === null ? null : l.rttMs / 1000));
  perLink('meridian_tunnel_streams', 'Streams open over the tunnel now.', (l) => l.streams);
  // Every state is emitted (1 for the current one, 0 for the others) so `== 1` alerts have no gaps.
  collectedGauge(registry, {
    name: 'meridian_tunnel_state',
    help: 'The state of the tunnel to the remote site: 1 for the current state (up, connecting, down), 0 for the others.',
    labelNames: ['peer_site', 'state'],
    fill: (gauge) => {
      for (const link of links()) for (const state of LINK_STATES) gauge.set({ peer_site: link.peerSite, state }, link.state === state ? 1 : 0);
    },
  });
}

function registerGatewayCounters(registry: Registry, stats: () => GatewayStatsSample): void {
  collectedGauge(registry, {
    name: 'meridian_gateway_streams_active',
    help: 'Streams open through the gateway now.',
    labelNames: [],
    fill: (gauge) => gauge.set(stats().streamsActive),
  });
  cumulativeCounter(registry, {
    name: 'meridian_gateway_streams_total',
    help: 'Streams the gateway accepted since it started.',
    labelNames: [],
    read: () => [{ labels: {}, value: stats().streamsTotal }],
  });
  cumulativeCounter(registry, {
    name: 'meridian_gateway_rejections_total',
    help: 'Streams the gateway refused (unexported service, unknown instance, foreign identity) since it started.',
    labelNames: [],
    read: () => [{ labels: {}, value: stats().rejections }],
  });
}
