import { createPrivateKey, sign, verify, type KeyObject, type X509Certificate } from 'node:crypto';


/**
 * A workload certificate request from a node agent, sent to its site's signer (the subject is
 * `signerSubject(site)` in shared/catalog). The agent proves it holds its own identity
 * by signing the CSR with its agent key; the signer issues only for services registered on that
 * agent's node.
 */
export interface SignRequest {
  readonly csr: string;
  /** The agent's certificate chain (PEM, leaf first). */
  readonly agentChain: string;
  /** When the request was made (ISO time): proofs older than the replay window are refused. */
  readonly at: string;
  /** base64 signature by the agent key over `${at}\n${csr}`. */
  readonly proof: string;
}

export type SignReply = { readonly chain: string } | { readonly error: { readonly code: string; readonly message: string } };

export const REPLAY_WINDOW_MS = 120_000;

function proofInput(at: string, csr: string): Buffer {
  return Buffer.from(`${at}\n${csr}`);
}

export function signProof(agentKey: KeyObject, at: string, csr: string): string {
  return sign('sha256', proofInput(at, csr), agentKey.type === 'private' ? agentKey : createPrivateKey(agentKey.export({ type: 'pkcs8', format: 'pem' }))).toString('base64');
}

export function verifyProof(agentCertificate: X509Certificate, request: SignRequest): boolean {
  return verify('sha256', proofInput(request.at, request.csr), agentCertificate.publicKey, Buffer.from(request.proof, 'base64'));
}
