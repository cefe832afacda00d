import type { KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { signerSubject } from '../../shared/catalog/index.js';
import { MeridianError, type ErrorCode } from '../../shared/errors/index.js';
import { createCsr, formatSpiffeId, parseCertificates, signProof, type MtlsIdentity, type SignReply, type SignRequest } from '../../shared/identity/index.js';

const REQUEST_TIMEOUT_MS = 5000;

/**
 * Asks the site's signer for a workload certificate of `service`, for a key made here (the key
 * never leaves the node). The request is signed with the agent's own key as proof of who asks.
 */
export async function requestWorkloadCertificate(options: {
  nc: NatsConnection;
  agent: MtlsIdentity;
  site: string;
  service: string;
  workloadKey: KeyObject;
}): Promise<MtlsIdentity> {
  const uri = formatSpiffeId(options.agent.bundle.trustDomain, options.site, 'svc', options.service);
  const csr = createCsr({ privateKey: options.workloadKey, commonName: options.service, uris: [uri] });
  const at = new Date().toISOString();
  const request: SignRequest = { csr, at, agentChain: options.agent.chain.map((c) => c.toString()).join(''), proof: signProof(options.agent.privateKey, at, csr) };
  let reply: SignReply;
  try {
    const message = await options.nc.request(signerSubject(options.site), JSON.stringify(request), { timeout: REQUEST_TIMEOUT_MS });
    reply = message.json<SignReply>();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `certificate signer of site ${options.site} did not answer: ${(cause as Error).message}`, { cause });
  }
  if ('error' in reply) throw new MeridianError(reply.error.code as ErrorCode, `signer refused ${uri}: ${reply.error.message}`);
  return { privateKey: options.workloadKey, chain: parseCertificates(reply.chain, `signer reply for ${uri}`), bundle: options.agent.bundle };
}
