export { joinSite, type JoinResult, type JoinSiteOptions } from './join.js';
export { openControlSocket, parseControlAddress, verifyControlChain, type DiscoveryExpectation } from './discovery.js';
