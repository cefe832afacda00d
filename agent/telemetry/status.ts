import type { X509Certificate } from 'node:crypto';
import type { NodeContext } from '../../shared/catalog/index.js';
import type { PolicyReport } from '../../shared/policy/index.js';
import { busiestTraffic, certificateStatus, policyFields, trustField, type AgentStatus, type CertificateStatus, type TrustWatchState } from '../../shared/status/index.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { RequestTelemetry } from './hub.js';

/** What an agent's status record is made of. */
export interface AgentStatusSources {
  readonly node: NodeContext;
  readonly intervalMs: number;
  /** The agent's own certificate now (it changes on renewal). */
  readonly agentCertificate: () => X509Certificate | undefined;
  readonly connected: () => boolean;
  readonly services: () => readonly string[];
  readonly dataPlane: () => DataPlane | undefined;
  readonly telemetry: RequestTelemetry;
  /** The trust document followed (absent before the watch starts). */
  readonly trust?: () => TrustWatchState | undefined;
  /** The policy version enforced and the last one refused (the agent's policy follower); absent: none published. */
  readonly policy?: () => PolicyReport;
}

/** The node's certificates: its agent identity and every workload identity it holds. */
export function nodeCertificates(sources: Pick<AgentStatusSources, 'agentCertificate' | 'dataPlane'>): CertificateStatus[] {
  const workloads = [...(sources.dataPlane()?.identities().values() ?? [])].flatMap((identity) => {
    const leaf = identity.chain[0];
    return leaf === undefined ? [] : [certificateStatus('workload', leaf)];
  });
  const own = sources.agentCertificate();
  const agent = own === undefined ? [] : [certificateStatus('agent', own)];
  return [...agent, ...workloads];
}

/** Builds the agent's status record at each report tick; its traffic section keeps the busiest pairs. */
export function agentStatusCollector(sources: AgentStatusSources): () => AgentStatus {
  const startedAt = new Date().toISOString();
  const { node } = sources;
  return () => {
    const { traffic, omitted } = busiestTraffic(sources.telemetry.meter.snapshot());
    return {
      kind: 'agent',
      name: node.node,
      site: node.site,
      region: node.region,
      platform: node.platform,
      at: '',
      startedAt,
      intervalMs: sources.intervalMs,
      certificates: nodeCertificates(sources),
      ...policyFields(sources.policy),
      natsConnected: sources.connected(),
      services: [...new Set(sources.services())].sort(),
      traffic,
      failovers: sources.dataPlane()?.failovers() ?? [],
      rejections: sources.telemetry.rejections,
      ...(sources.telemetry.rateLimited > 0 ? { rateLimited: sources.telemetry.rateLimited } : {}),
      ...(omitted > 0 ? { omitted: { traffic: omitted } } : {}),
      ...trustField(sources.trust?.()),
    };
  };
}
