/**
 * The east-west gateway: HTTP/2 CONNECT tunnels over TLS 1.3 between sites, and the dialer node
 * agents use to reach them. See shared/mesh/types.ts for the path a cross-site call takes.
 */
export { startGateway } from './server.js';
export { GatewayDialer } from './dialer.js';
export { checkLocalInstance, staticResolver, type RoutableInstance, type StaticResolverInput } from './resolver.js';
export { GATEWAY_DEFAULTS } from './options.js';
export { REASON_HEADER } from './status.js';
export { relay, type RelayCounters } from './relay.js';
export type {
  BackoffOptions,
  Gateway,
  GatewayAddress,
  GatewayDialerOptions,
  GatewayOptions,
  GatewayResolver,
  GatewayStats,
  LinkState,
  LinkStatus,
  LocalEndpoint,
  LocalRefusal,
  RefusalStatus,
} from './types.js';
