/** The agent's telemetry: the request observer behind metrics, access logs and status traffic, and its status record. */
export { RequestTelemetry, UNKNOWN_SERVICE, type RequestSink, type RequestTelemetrySinks } from './hub.js';
export { openAccessLog, accessLogLine, type AccessLog, type AccessLogTarget } from './access-log.js';
export { agentStatusCollector, nodeCertificates, type AgentStatusSources } from './status.js';
