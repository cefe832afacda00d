/**
 * Test PKI: one builder ({@link TestTrustDomain}) for trust domains, site CAs and identities made
 * at test time, plus the TLS endpoints tests use to probe them. Nothing here is committed key
 * material. A federation's on-disk PKI (`meridian ca` layout) comes with the secure federation
 * fixture (support/catalog.ts).
 */
export { TRUST_DOMAIN, TestTrustDomain, spiffe } from './trust-domain.js';
export type { ForgedLeafOptions, IdentityFiles, TestIdentity } from './trust-domain.js';
export { attempt, mtlsConnect, mtlsH2, nestedTls, refusedAfterHandshake, startMtlsServer } from './tls.js';
export type { Attempt, MtlsConnectOptions, MtlsTestServer } from './tls.js';
