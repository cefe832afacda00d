export { CALLER_HEADER, GATEWAY_SERVICE, IDENTITY_HEADERS, TARGET_INSTANCE_HEADER, connectAuthority, meshServerName } from './types.js';
export type { MeshAlpn, MeshDialer, MeshTarget } from './types.js';
