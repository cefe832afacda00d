import type { VerifiedPeer } from './peer.js';

/**
 * Why a verified caller may not call a local service at all, whatever the policy hook says;
 * undefined when it may. Only workloads call services, and another site's workloads only
 * services their site exports: the gateway refuses both (gateway/authorize.ts, resolver.ts), and
 * the inbound port must too, as it can be reached without a gateway (a flat network, an exposed
 * port). Two comparisons on the hot path; the message is built only for a refusal.
 */
export function callerRefusal(peer: VerifiedPeer, exported: boolean): string | undefined {
  const { caller, service } = peer;
  if (caller.kind !== 'svc') {
    return `${caller.uri} may not call service "${service}": ${caller.kind} identities are not workloads: only …/svc/<name> identities may call services`;
  }
  if (caller.site !== peer.site && !exported) {
    return `${caller.uri} may not call service "${service}": it is not exported to other sites (caller of site ${caller.site}, service of site ${peer.site})`;
  }
  return undefined;
}
