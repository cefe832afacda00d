import { TrafficMeter } from '../../shared/status/index.js';
import type { RequestRecord } from '../proxy/index.js';
import type { AccessLog } from './access-log.js';

/** Anything else that wants every finished request (the Prometheus metrics). */
export interface RequestSink {
  observe(record: RequestRecord): void;
}

/**
 * The one observer the node's proxies report finished requests to: it feeds the status report's
 * traffic edges, counts inbound refusals, writes the access log and the metrics.
 */
export class RequestTelemetry {
  readonly meter = new TrafficMeter();
  #rejections = 0;

  constructor(
    private readonly site: string,
    private readonly sinks: { readonly accessLog?: AccessLog | undefined; readonly metrics?: RequestSink | undefined } = {},
  ) {}

  /** Pass as the proxies' `onRequest`. */
  readonly observe = (record: RequestRecord): void => {
    this.meter.record(record);
    if (record.direction === 'inbound' && (record.status === 403 || record.status === 421)) this.#rejections++;
    this.sinks.accessLog?.write(record, this.site);
    this.sinks.metrics?.observe(record);
  };

  /** Calls refused at this node's inbound since start. */
  get rejections(): number {
    return this.#rejections;
  }
}
