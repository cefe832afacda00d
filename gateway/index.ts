/**
 * The east-west gateway: HTTP/2 CONNECT tunnels over TLS 1.3 between sites. The tunnel protocol
 * and the agents' dialer live in shared/mesh; this role serves them and keeps the links.
 */
export { startGateway } from './server.js';
export { checkLocalInstance, staticResolver, type RoutableInstance, type StaticResolverInput } from './resolver.js';
export { GATEWAY_DEFAULTS } from './options.js';
export { GatewayConfigSchema, loadGatewayConfig, type GatewayConfig } from './config.js';
export { GATEWAY_DRAIN_MS, catalogGatewayResolver, startGatewayProcess, type RunningGateway } from './runtime.js';
export type {
  BackoffOptions,
  Gateway,
  GatewayOptions,
  GatewayResolver,
  GatewayStats,
  LinkState,
  LinkStatus,
  LocalEndpoint,
  LocalRefusal,
  RefusalStatus,
} from './types.js';
