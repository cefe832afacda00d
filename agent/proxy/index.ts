/**
 * The node agent's data plane: the inbound mTLS listener serving this node's services, and the
 * outbound listeners through which a local service calls the mesh with its own identity.
 */
export type {
  Authorize,
  BalancerOptions,
  FailoverRecord,
  InboundConnectionInfo,
  InboundOptions,
  InboundProxy,
  LocalService,
  LocalServices,
  Locality,
  OutboundOptions,
  OutboundProxy,
  OutlierOptions,
  RequestObserver,
  RequestRecord,
  ServerTimeouts,
  UpstreamPort,
} from './types.js';
export { startInbound } from './inbound.js';
export { startOutbound } from './outbound.js';
export { Balancer, instanceKey } from './balancer.js';
export { directDialer, catalogResolver, type MeshAddress } from './dialer.js';
export { ProxyError, type ProxyErrorCode } from './errors.js';
export { DEFAULT_OUTLIER } from './outlier.js';
export { DEFAULT_TIMEOUTS } from './listen.js';
export { nextTraceparent, TRACEPARENT } from './trace.js';
