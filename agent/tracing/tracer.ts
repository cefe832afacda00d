import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../shared/telemetry/index.js';
import type { TracingSettings } from '../config.js';
import type { RequestRecord } from '../proxy/index.js';
import { parentContextOf, spanIdsOf, spanOf } from './spans.js';
import { statsMeterProvider, type TracingStats } from './stats.js';

/**
 * The tracing settings the agent's config resolves to (agent/config.ts `tracingSettings`; `protocol`
 * is OTLP/HTTP protobuf, `application/x-protobuf`, or JSON), and where the spans come from.
 */
export interface TracingOptions extends TracingSettings {
  readonly site: string;
  readonly node: string;
  readonly log: Logger;
  /** Where `meridian_trace_spans_total` is registered (the agent's /metrics). */
  readonly registry?: Registry;
}

/** A running tracer: the RequestTelemetry sink that turns finished requests into spans. */
export interface AgentTracing {
  /** One finished request; a span when it carried a trace and is sampled. Never throws, never waits. */
  observe(record: RequestRecord): void;
  /** Exported, dropped and failed spans since start. */
  stats(): Readonly<TracingStats>;
  /** Sends what is queued, bounded by the export timeout, then stops. */
  stop(): Promise<void>;
}

/**
 * One resource per local service (service.name), because that is the service a trace viewer
 * must show for the span; distinct names are bounded, past this they share one resource.
 */
const MAX_RESOURCES = 256;
const OVERFLOW_SERVICE = 'unknown';

/**
 * Starts the tracer: finished requests become client (outbound) and server (inbound) spans
 * with the span ids their traceparent carried, handed to the SDK's BatchSpanProcessor (bounded
 * queue, batches) and the OTLP/HTTP exporter of `protocol` (protobuf or JSON encoding).
 * Sampling: parent-based, with the ratio applied by trace id both to new traces and to sampled
 * callers, so every agent on a trace makes the same decision (propagation leaves the sampled
 * flag as it came).
 */
export function startTracing(options: TracingOptions): AgentTracing {
  const stats: TracingStats = { exported: 0, dropped: 0, failed: 0 };
  const onHealth = (failing: boolean, errorType: string): void => {
    if (failing) options.log.warn('trace export failing; spans are dropped while it does', { endpoint: options.otlpEndpoint, error: errorType });
    else options.log.info('trace export recovered', { endpoint: options.otlpEndpoint });
  };
  const processor = new BatchSpanProcessor({
    exporter: exporterOf(options),
    maxQueueSize: options.maxQueueSize,
    maxExportBatchSize: options.maxExportBatchSize,
    scheduledDelayMillis: options.scheduledDelayMs,
    exportTimeoutMillis: options.exportTimeoutMs,
    selfObsMeterProvider: statsMeterProvider(stats, onHealth),
  });
  const ratio = new TraceIdRatioBasedSampler(options.sampleRatio);
  const sampler: Sampler = new ParentBasedSampler({ root: ratio, remoteParentSampled: ratio });
  const resources = new Map<string, Resource>();
  const base = defaultResource().merge(resourceFromAttributes({ 'meridian.site': options.site, 'meridian.node': options.node }));
  const resourceOf = (service: string): Resource => {
    const known = resources.get(service);
    if (known !== undefined) return known;
    const name = resources.size < MAX_RESOURCES ? service : OVERFLOW_SERVICE;
    const created = resources.get(name) ?? base.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: name }));
    resources.set(name, created);
    return created;
  };
  if (options.registry !== undefined) registerSpanCounter(options.registry, stats);
  let stopped: Promise<void> | undefined;
  return {
    observe(record) {
      const ids = spanIdsOf(record);
      if (ids === undefined) return;
      const parent = parentContextOf(ids);
      const context = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
      const kind = record.direction === 'outbound' ? SpanKind.CLIENT : SpanKind.SERVER;
      if (sampler.shouldSample(context, ids.traceId, record.method, kind, {}, []).decision !== SamplingDecision.RECORD_AND_SAMPLED) return;
      processor.onEnd(spanOf(record, ids, resourceOf(record.service)));
    },
    stats: () => ({ ...stats }),
    stop() {
      stopped ??= boundedShutdown(processor, options.exportTimeoutMs);
      return stopped;
    },
  };
}

/** The SDK's OTLP/HTTP exporter of the configured encoding; both retry within `exportTimeoutMs`. */
function exporterOf(options: TracingOptions): SpanExporter {
  const config = { url: options.otlpEndpoint, timeoutMillis: options.exportTimeoutMs };
  return options.protocol === 'http/json' ? new JsonTraceExporter(config) : new ProtobufTraceExporter(config);
}

/** The processor's shutdown (a last flush) within the export timeout: a dead collector must not hold up the agent's stop. */
async function boundedShutdown(processor: BatchSpanProcessor, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs + 100);
  });
  try {
    await Promise.race([processor.shutdown().catch(() => undefined), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** `meridian_trace_spans_total{outcome}`: exported, dropped (queue full) and failed spans, read from the stats at scrape. */
function registerSpanCounter(registry: Registry, stats: TracingStats): void {
  new Counter({
    name: 'meridian_trace_spans_total',
    help: 'Spans of proxied requests by outcome: exported to the OTLP collector, dropped at the full queue, failed to export.',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'exported' }, stats.exported);
      this.inc({ outcome: 'dropped' }, stats.dropped);
      this.inc({ outcome: 'failed' }, stats.failed);
    },
  });
}
