import type { KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { signerSubject } from '../catalog/index.js';
import { MeridianError, type ErrorCode } from '../errors/index.js';
import { chainToPem, createCsr, parseCertificates, signProof, type MtlsIdentity, type SignReply, type SignRequest } from '../identity/index.js';

const REQUEST_TIMEOUT_MS = 5000;

/**
 * Asks the site's signer for a certificate of `uri` for `key` (made by the caller; it never
 * leaves the process). The request is signed with the caller's current key as proof of who asks:
 * an agent asks for its node's workloads and for its own identity, a gateway for its own.
 */
export async function requestCertificate(options: { nc: NatsConnection; caller: MtlsIdentity; site: string; uri: string; key: KeyObject; commonName: string }): Promise<MtlsIdentity> {
  const csr = createCsr({ privateKey: options.key, commonName: options.commonName, uris: [options.uri] });
  const at = new Date().toISOString();
  const request: SignRequest = { csr, at, agentChain: chainToPem(options.caller.chain), proof: signProof(options.caller.privateKey, at, csr) };
  let reply: SignReply;
  try {
    const message = await options.nc.request(signerSubject(options.site), JSON.stringify(request), { timeout: REQUEST_TIMEOUT_MS });
    reply = message.json<SignReply>();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `certificate signer of site ${options.site} did not answer: ${(cause as Error).message}`, { cause });
  }
  if ('error' in reply) throw new MeridianError(reply.error.code as ErrorCode, `signer refused ${options.uri}: ${reply.error.message}`);
  return { privateKey: options.key, chain: parseCertificates(reply.chain, `signer reply for ${options.uri}`), bundle: options.caller.bundle };
}
