import type { X509Certificate } from 'node:crypto';
import type { PolicyReport } from '../shared/policy/index.js';
import { certificateStatus, policyFields, trustField, type GatewayStatus, type LinkStatusRecord, type TrustWatchState } from '../shared/status/index.js';
import type { Gateway, LinkStatus } from './types.js';

/** A tunnel as the status report and the metrics carry it. */
export function linkRecord(link: LinkStatus): LinkStatusRecord {
  return {
    peerSite: link.site,
    state: link.state,
    since: link.since.toISOString(),
    lastHeartbeat: link.lastHeartbeat?.toISOString() ?? null,
    rttMs: link.rttMs ?? null,
    streams: link.streams,
    bytesIn: link.bytesIn,
    bytesOut: link.bytesOut,
    lastError: link.lastError ?? null,
  };
}

/** The gateway's stream counters as the status report and the metrics carry them. */
export function streamCounters(gateway: Gateway): { streamsActive: number; streamsTotal: number; rejections: number } {
  const stats = gateway.stats();
  return { streamsActive: stats.streams.active, streamsTotal: stats.streams.total, rejections: stats.streams.refused + stats.sessionsRefused };
}

/** Builds a gateway's status record at each report tick: its tunnels, refusals and certificate. */
export function gatewayStatusCollector(options: {
  gateway: Gateway;
  name: string;
  region: string;
  platform: string;
  intervalMs: number;
  certificate: () => X509Certificate | undefined;
  /** The trust document followed (absent before the watch starts). */
  trust?: () => TrustWatchState | undefined;
  /** The policy version enforced and the last one refused (the gateway's policy follower); absent: none published. */
  policy?: () => PolicyReport;
}): () => GatewayStatus {
  const startedAt = new Date().toISOString();
  return () => {
    const counters = streamCounters(options.gateway);
    const certificate = options.certificate();
    return {
      kind: 'gateway',
      name: options.name,
      site: options.gateway.id.site,
      region: options.region,
      platform: options.platform,
      at: '',
      startedAt,
      intervalMs: options.intervalMs,
      certificates: certificate === undefined ? [] : [certificateStatus('gateway', certificate)],
      ...policyFields(options.policy),
      links: options.gateway.links().map(linkRecord),
      rejections: counters.rejections,
      streamsActive: counters.streamsActive,
      ...trustField(options.trust?.()),
    };
  };
}
