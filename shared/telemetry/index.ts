export { jsonLogger, type Logger } from './log.js';
export {
  AgentMetrics,
  ControlMetrics,
  GatewayMetrics,
  createRegistry,
  REQUEST_DURATION_BUCKETS,
  type AgentMetricsOptions,
  type GatewayMetricsSources,
  type GatewayStatsSample,
  type LinkSample,
  type MetricsRole,
  type RegistryLabels,
  type RegistryOptions,
  type RequestSample,
  type StateSources,
} from './metrics.js';
export type { CatalogSample, CertificateSample, FailoverSample, GaugeReadings } from './collectors.js';
export { DEFAULT_MAX_SERIES_PER_METRIC, OVERFLOW_LABEL_VALUE } from './cap.js';
export { exposition, serveMetrics, type MetricsServer, type ServeMetricsOptions } from './serve.js';
