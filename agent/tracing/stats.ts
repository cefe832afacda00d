import { createNoopMeter, type Attributes, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';

/** What became of the spans handed to the exporter since start. */
export interface TracingStats {
  /** Accepted by the collector. */
  exported: number;
  /** Refused at the full queue (the collector is slow or unreachable): never sent. */
  dropped: number;
  /** Sent, or tried, and failed (after the exporter's retries within the export timeout). */
  failed: number;
}

/** The SDK's batch processor reports each finished or dropped span on this counter (self-observability metrics). */
const PROCESSED_SPANS = 'otel.sdk.processor.span.processed';
const QUEUE_FULL = 'queue_full';

/** Called when exports start failing (with the error type) and when they succeed again. */
export type ExportHealthListener = (failing: boolean, errorType: string) => void;

/**
 * A MeterProvider for the batch processor's own metrics that counts into `stats`: the SDK's
 * drop counter (`_droppedSpansCount`) resets itself, while this sees every drop and export
 * outcome. Every other instrument is the API's no-op.
 */
export function statsMeterProvider(stats: TracingStats, onHealth: ExportHealthListener): MeterProvider {
  const noop = createNoopMeter();
  let failing = false;
  const processed: Counter = {
    add(count: number, attributes?: Attributes): void {
      const errorType = attributes?.['error.type'];
      if (errorType === QUEUE_FULL) {
        stats.dropped += count;
      } else if (errorType === undefined) {
        stats.exported += count;
        if (failing) onHealth((failing = false), '');
      } else {
        stats.failed += count;
        if (!failing) onHealth((failing = true), typeof errorType === 'string' ? errorType : 'export');
      }
    },
  };
  const meter = Object.create(noop) as Meter;
  meter.createCounter = <T extends Attributes>(name: string, options?: Parameters<Meter['createCounter']>[1]): Counter<T> =>
    name === PROCESSED_SPANS ? processed : noop.createCounter<T>(name, options);
  return { getMeter: () => meter };
}
