import { GatewayDialer } from '../../../shared/mesh/index.js';
import { startGateway, staticResolver, type Gateway, type GatewayOptions, type RoutableInstance } from '../../../gateway/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import type { TestTrustDomain } from '../pki/index.js';
import { recordingLogger, type RecordingLogger } from './logs.js';

export type Site = 'a' | 'b' | 'c';
export const SITES: readonly Site[] = ['a', 'b', 'c'];

/** Per-gateway options a test may set (everything but identity, resolver and logger). */
export type GatewayTuning = Omit<GatewayOptions, 'identity' | 'resolver' | 'logger'>;

/** Options of {@link startGateways}. */
export interface GatewaysOptions {
  /** The instances each site's resolver knows (default none). */
  readonly instances?: Partial<Record<Site, RoutableInstance[]>>;
  readonly tuning?: GatewayTuning;
  /** Default a, b and c. */
  readonly sites?: readonly Site[];
}

/** One in-process gateway per site (`gw-<site>`), each with a live static resolver and a recording logger. */
export interface GatewayMesh {
  readonly gateways: Record<Site, Gateway>;
  readonly identities: Record<Site, MtlsIdentity>;
  readonly resolvers: Record<Site, ReturnType<typeof staticResolver>>;
  readonly logs: Record<Site, RecordingLogger>;
  /** A dialer for a node agent of `site`, using that site's gateway. */
  agentDialer(site: Site, node?: string): GatewayDialer;
  /** Stops one site's gateway, runs `whileDown`, then starts it again on the same port (same identity and resolver). */
  restart(site: Site, whileDown?: () => Promise<void>): Promise<Gateway>;
  close(): Promise<void>;
}

/** Starts gateways for `sites`, with identities of `pki`, and tells each resolver where the others are. */
export async function startGateways(pki: TestTrustDomain, options: GatewaysOptions = {}): Promise<GatewayMesh> {
  const sites = options.sites ?? SITES;
  const identities = {} as Record<Site, MtlsIdentity>;
  const resolvers = {} as GatewayMesh['resolvers'];
  const logs = {} as GatewayMesh['logs'];
  const gateways = {} as Record<Site, Gateway>;
  const dialers: GatewayDialer[] = [];
  const start = async (site: Site, port?: number): Promise<Gateway> => {
    const gatewayOptions = { ...options.tuning, identity: identities[site], resolver: resolvers[site], logger: logs[site] };
    gateways[site] = await startGateway(port === undefined ? gatewayOptions : { ...gatewayOptions, port });
    return gateways[site];
  };
  for (const site of sites) {
    identities[site] = pki.identity(site, 'gateway', `gw-${site}`);
    resolvers[site] = staticResolver({ instances: options.instances?.[site] ?? [], gateways: {} });
    logs[site] = recordingLogger();
    await start(site);
  }
  for (const site of sites) {
    for (const other of sites) if (other !== site) resolvers[site].setGateway(other, gateways[other].address);
  }
  return {
    gateways,
    identities,
    resolvers,
    logs,
    agentDialer(site, node = 'node-1') {
      const agent = pki.identity(site, 'agent', node);
      const dialer = new GatewayDialer({ gateway: gateways[site].address, identity: () => agent, expectSite: site });
      dialers.push(dialer);
      return dialer;
    },
    async restart(site, whileDown) {
      const { port } = gateways[site].address;
      await gateways[site].close();
      await whileDown?.();
      return start(site, port);
    },
    async close() {
      await Promise.all(dialers.map((d) => d.close()));
      await Promise.all(sites.map((site) => gateways[site].close()));
    },
  };
}
