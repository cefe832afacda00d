export { startSigner, type SignerOptions } from './signer.js';
