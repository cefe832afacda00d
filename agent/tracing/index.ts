/** OpenTelemetry traces of the agent's proxied requests: client and server spans exported over OTLP/HTTP. */
export { startTracing, type AgentTracing, type TracingOptions } from './tracer.js';
export { spanIdsOf, spanOf, PROXY_SCOPE, type SpanIds } from './spans.js';
export type { TracingStats } from './stats.js';
