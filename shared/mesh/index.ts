/**
 * The mesh's tunnel protocol and its client, shared by the agents and the east-west gateways: the
 * contracts (targets, headers, ALPN), the HTTP/2 CONNECT request format, peer sessions to a
 * gateway with their retry rule, the agent's gateway dialer, refusal reasons, and the byte pipe
 * that joins two streams. See contracts.ts for the path a cross-site call takes.
 */
export { CALLER_HEADER, GATEWAY_SERVICE, IDENTITY_HEADERS, TARGET_INSTANCE_HEADER, connectAuthority, meshServerName } from './contracts.js';
export type { GatewayAddress, MeshAlpn, MeshDialer, MeshTarget } from './contracts.js';
export { connectHeaders, describeTarget, parseConnectRequest } from './connect-request.js';
export { MAX_HEADER_LIST_SIZE, PeerSession, SESSION_WINDOW, STREAM_WINDOW, closeSession, isRetryable, requestWithRetry, type ConnectAnswer, type PeerSessionOptions } from './peer-session.js';
export { GatewayDialer, type GatewayDialerOptions } from './gateway-dialer.js';
export { REASON_HEADER, headerSafe, refusalError, refuse, refuseWithError } from './refusal.js';
export { abortStream, pipe, type PipeCounters } from './pipe.js';
