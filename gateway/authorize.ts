import { MeridianError } from '../shared/errors/index.js';
import type { SpiffeId } from '../shared/identity/index.js';
import type { MeshTarget } from '../shared/mesh/index.js';

/** What an authenticated peer is to this gateway: its site's agents, or another site's gateways. */
export type PeerRole = 'agent' | 'gateway';

/** The role `peer` may take at the gateway of `ownSite`, or the reason it may not use it at all. */
export function sessionRole(peer: SpiffeId, ownSite: string): PeerRole | { refused: string } {
  if (peer.kind === 'agent' && peer.site === ownSite) return 'agent';
  if (peer.kind === 'gateway' && peer.site !== ownSite) return 'gateway';
  if (peer.kind === 'agent') return { refused: `agent ${peer.uri} belongs to site ${peer.site}; only agents of site ${ownSite} may use this gateway` };
  if (peer.kind === 'gateway') return { refused: `gateway ${peer.uri} is of this gateway's own site ${ownSite}; only other sites' gateways may open tunnels` };
  return { refused: `${peer.kind} identity ${peer.uri} may not use an east-west gateway (agents of site ${ownSite} and other sites' gateways only)` };
}

/**
 * Whether a stream for `target` is allowed, and where it goes. Agents reach other sites only (an
 * own-site instance is reached agent to agent); gateways reach this site only, so a gateway is
 * never a transit hop between two other sites.
 */
export function streamRoute(role: PeerRole, peer: SpiffeId, target: MeshTarget, ownSite: string): 'local' | 'remote' {
  if (role === 'agent') {
    if (target.site === ownSite) {
      throw new MeridianError('MERIDIAN_ERR_FORBIDDEN', `target site ${target.site} is this gateway's own site: agents of site ${ownSite} reach its instances directly, not through the gateway`);
    }
    return 'remote';
  }
  if (target.site !== ownSite) {
    throw new MeridianError('MERIDIAN_ERR_FORBIDDEN', `gateway ${peer.uri} may only open streams to site ${ownSite} (asked for site ${target.site}); gateways do not relay between other sites`);
  }
  return 'local';
}
