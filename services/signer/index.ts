export { startSigner, type SignerOptions } from './signer.js';
export { assertIdentityNotRevoked, assertLeafNotRevoked } from './revocation.js';
