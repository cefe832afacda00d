export { startJoinService, type JoinService, type JoinServiceConfig, type JoinServiceOptions } from './service.js';
export { JOIN_BODY_LIMIT, type JoinResponse, type JoinTimeouts } from './endpoint.js';
export { DEFAULT_FAILURE_LIMITS, FailureLimiter, type FailureLimits } from './rate-limit.js';
export { consumeJoinToken, createJoinToken, ensureJoinBucket, listJoinTokens, revokeJoinToken, type TokenRecord } from './token-store.js';
export { openJoinStore } from './store-access.js';
