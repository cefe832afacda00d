import type { KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { formatSpiffeId, type MtlsIdentity } from '../../shared/identity/index.js';
import { requestCertificate } from '../../shared/renewal/index.js';

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
  return requestCertificate({ nc: options.nc, caller: options.agent, site: options.site, uri, key: options.workloadKey, commonName: options.service });
}
