import { TrafficMeter } from '../../shared/status/index.js';
import type { RequestRecord } from '../proxy/index.js';
import type { Registry } from 'prom-client';
import type { AccessLog } from './access-log.js';
import { denialCounter, rateLimitedCounter, type DenialCounter } from './denials.js';

/** Anything else that wants every finished request (the Prometheus metrics). */
export interface RequestSink {
  observe(record: RequestRecord): void;
  /** The registry the sink's metrics live in: the policy denial counter joins them there. */
  readonly registry?: Registry;
}

/** The destination name metrics and the status report give a service the catalog does not know. */
export const UNKNOWN_SERVICE = 'unknown';

/** Where a node's finished requests go besides the traffic meter, and how it tells known services. */
export interface RequestTelemetrySinks {
  readonly accessLog?: AccessLog | undefined;
  readonly metrics?: RequestSink | undefined;
  /** The tracer (agent/tracing), when the config has a `tracing` section: absent, tracing costs one check per request. */
  readonly tracing?: { observe(record: RequestRecord): void } | undefined;
  /**
   * Whether the catalog has the service at all. Without it, every destination that no instance
   * answered counts as unknown: its name came from the caller's Host header and can be anything.
   */
  readonly knownService?: (service: string) => boolean;
}

/**
 * The one observer the node's proxies report finished requests to: it feeds the status report's
 * traffic edges, counts inbound refusals, writes the access log and the metrics, and hands it to the tracer.
 */
export class RequestTelemetry {
  readonly meter = new TrafficMeter();
  #rejections = 0;
  #rateLimited = 0;
  readonly #denials: DenialCounter | undefined;
  readonly #limited: DenialCounter | undefined;

  constructor(
    private readonly site: string,
    private readonly sinks: RequestTelemetrySinks = {},
  ) {
    this.#denials = sinks.metrics?.registry === undefined ? undefined : denialCounter(sinks.metrics.registry);
    this.#limited = sinks.metrics?.registry === undefined ? undefined : rateLimitedCounter(sinks.metrics.registry);
  }

  /** Pass as the proxies' `onRequest`. */
  readonly observe = (record: RequestRecord): void => {
    const counted = this.#unknownDestination(record) ? { ...record, peerService: UNKNOWN_SERVICE } : record;
    this.meter.record(counted);
    if (record.direction === 'inbound' && (record.status === 403 || record.status === 421)) this.#rejections++;
    if (record.policyRule !== undefined) this.#denials?.count(record.service, record.policyRule);
    if (record.rateLimit !== undefined) {
      this.#rateLimited++;
      this.#limited?.count(record.service, record.rateLimit);
    }
    // The access log keeps the name as asked: one line per request, whatever the name, is its job.
    this.sinks.accessLog?.write(record, this.site);
    this.sinks.metrics?.observe(counted);
    this.sinks.tracing?.observe(record);
  };

  /** Requests refused at this node's inbound by a rate limit (429) since start. */
  get rateLimited(): number {
    return this.#rateLimited;
  }

  /** Calls refused at this node's inbound since start. */
  get rejections(): number {
    return this.#rejections;
  }

  /**
   * A call that no instance answered, to a service the catalog does not have: its name would be
   * a metric series and a status traffic pair of its own, so random Host headers would grow both
   * without bound. Answered calls and inbound ones name services that exist, and skip the lookup.
   */
  #unknownDestination(record: RequestRecord): boolean {
    if (record.direction !== 'outbound' || record.peerSite !== '') return false;
    return this.sinks.knownService === undefined || !this.sinks.knownService(record.peerService);
  }
}
