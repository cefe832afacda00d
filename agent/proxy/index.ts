/**
 * The node agent's data plane, laid out as a request travels:
 * - outbound/: the listeners a local service calls the mesh through (HTTP routing by Host /
 *   :authority, TCP upstream ports), the attempt loop, the balancer and outlier detection;
 * - transport/: how an attempt reaches an instance: direct or through the site's gateway
 *   (mesh-dialer), the nested workload TLS session (mesh-connect) and its pools;
 * - inbound/: the node's mTLS listener, which verifies the caller and forwards to the local app;
 * - http/: request and response plumbing both directions share; listener/: listen, timeouts, drain.
 * data-plane.ts wires them to the node's registrations.
 */
export type { InboundConnectionInfo, InboundOptions, InboundProxy, LocalService, LocalServices } from './inbound/types.js';
export type { OutboundOptions, OutboundProxy, UpstreamPort } from './outbound/types.js';
export type { BalancerOptions, FailoverRecord, Locality } from './outbound/balancer.js';
export type { OutlierOptions } from './outbound/outlier.js';
export type { RequestObserver, RequestRecord } from './records.js';
export type { ServerTimeouts } from './listener/listen.js';
export { startInbound } from './inbound/listener.js';
export { startOutbound } from './outbound/listener.js';
export { Balancer } from './outbound/balancer.js';
export { directDialer, catalogResolver, type MeshAddress } from './transport/direct-dialer.js';
export { nodeMeshDialer, type NodeMeshDialerOptions } from './transport/mesh-dialer.js';
export { ProxyError, type ProxyErrorCode } from './http/errors.js';
export { DEFAULT_OUTLIER } from './outbound/outlier.js';
export { DEFAULT_TIMEOUTS } from './listener/listen.js';
export { nextTraceparent, TRACEPARENT } from './http/trace.js';
export { startDataPlane, type DataPlane, type DataPlaneOptions } from './data-plane.js';
