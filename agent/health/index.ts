/**
 * Health checks of a registered service instance: http, tcp, grpc (grpc.health.v1) and ttl,
 * with healthy/unhealthy thresholds; the agent's registration forwards each flip to the catalog.
 */
export { startHealthCheck } from './start.js';
export { CHECK_DEFAULTS } from './resolve.js';
export type {
  ChangeDetail,
  ChangeListener,
  CheckResult,
  CheckState,
  DecidedState,
  HealthCheck,
  HealthCheckHandle,
  HealthCheckOptions,
} from './types.js';
