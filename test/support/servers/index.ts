/**
 * Launching real local servers (nats-server, redis-server) for tests and the local demo:
 * free loopback ports, private temp dirs, readiness racing early exit, bounded teardown, and a
 * process-wide safety net that kills leftovers on exit. Handles don't keep the event loop alive:
 * a script that forgets stop() still exits, and its servers are killed on the way out.
 */
export { findBinary, binaryEnvVar, SYSTEM_BINARY_DIRS } from './binary.js';
export type { FindBinaryOptions } from './binary.js';
export { startNatsServer } from './nats.js';
export { renderNatsConfig } from './nats-config.js';
export type { NatsConfigInput } from './nats-config.js';
export { startSupercluster } from './supercluster.js';
export { startRedisServer } from './redis.js';
export { redisTlsFiles, type RedisTlsFiles } from './redis-tls.js';
export { CuttableLink, gatewayName } from './tcp-cut.js';
export type { LinkPolicy } from './tcp-cut.js';
export { cleanupSync } from './registry.js';
export { freePort, pollUntil } from './probe.js';
export type { PollOptions } from './probe.js';
export type {
  ServerHandle,
  NatsTlsOptions,
  NatsClusterOptions,
  NatsGatewayRemote,
  NatsGatewayOptions,
  NatsServerOptions,
  NatsServerHandle,
  SuperclusterOptions,
  SiteHandle,
  SuperclusterHandle,
  RedisServerOptions,
  RedisServerHandle,
} from './types.js';
export { startPrometheus, renderPrometheusConfig } from './prometheus.js';
export type { PrometheusHandle, PrometheusOptions, PrometheusSample, PrometheusTarget, PrometheusTargetHealth } from './prometheus.js';
