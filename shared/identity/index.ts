export type { CertificateFacts, IdentityKind, KeyAlgorithm, KeyedCertificate, SpiffeId, TlsUsage } from './types.js';
export { assertName, assertTrustDomain, formatSpiffeId, parseSpiffeId } from './spiffe.js';
export { generatePrivateKey, privateKeyFromPem, privateKeyToPem } from './keys.js';
export { createCsr, parseCsr, toPem, type ParsedCsr } from './csr.js';
export { buildCertificate, type CertificateIssuer, type CertificateTemplate } from './x509-builder.js';
export { certificateFacts } from './certificate-facts.js';
export { shortFingerprint, type CaPaths } from './pki-directory.js';
export {
  finishRootRotation,
  pkiStatus,
  renewSiteCa,
  startRootRotation,
  type PkiStatus,
  type RootStatus,
  type RotationFinished,
  type RotationFinishOptions,
  type RotationStarted,
  type SiteCaStatus,
  type SiteRenewalOptions,
  type SiteRenewed,
} from './rotation.js';
export { deriveSiteNatsPassword, type SiteNatsPasswords } from './nats-password.js';
export { TrustBundle, chainToPem, parseCertificates } from './bundle.js';
export {
  DEFAULT_LEAF_TTL_MS,
  MAX_LEAF_TTL_MS,
  SiteAuthority,
  createRootAuthority,
  issueSiteCa,
  type IssueRequest,
  type IssuedCertificate,
  type RootAuthority,
} from './authority.js';
export { createSiteAuthority, issueLocalIdentity } from './issue-local.js';
export { verifyPeer, type PeerCertificates } from './verify.js';
export { liveClientOptions, mtlsClientOptions, mtlsContextOptions, mtlsServerOptions, ownIdentity, peerIdentity, spiffeServerCheck, type LiveClientOptions, type MtlsIdentity } from './tls.js';
export { MIN_RENEWAL_DELAY_MS, RenewalTimer, renewalDueAt, type RenewalPolicy, type RenewalTimerOptions } from './renewal.js';
export { LiveIdentity, type IdentityListener } from './live-identity.js';
export { PkiDirectory } from './pki-directory.js';
export { loadMtlsIdentity, writeFileAtomic, type AtomicWriteOptions, writeIdentityFiles, writePrivateKey, writeCertificates, writeText, readCertificates, readPrivateKey, readText } from './files.js';
export { REPLAY_WINDOW_MS, signProof, verifyProof, type SignReply, type SignRequest } from './sign-request.js';
export { MIN_BEARER_TOKEN_LENGTH, assertBearerToken, bearerTokenMatches } from './bearer.js';
export { loadOrCreateTokenFile, readTokenFile, type TokenFile } from './token-file.js';
export {
  DEFAULT_JOIN_TOKEN_TTL_MS,
  JOIN_TOKEN_PREFIX,
  MAX_JOIN_TOKEN_TTL_MS,
  caSpkiHash,
  formatJoinToken,
  hashTokenSecret,
  newJoinToken,
  parseJoinToken,
  tokenSecretMatches,
  type JoinToken,
} from './join-token.js';
export {
  MAX_TRUST_DOCUMENT_BYTES,
  TRUST_DOCUMENT_KEY,
  encodeTrustDocument,
  trustBucketName,
  verifyTrustDocument,
  type TrustDocument,
  type TrustDocumentExpectation,
} from './trust-document.js';
