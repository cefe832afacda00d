import type { Duplex } from 'node:stream';
import { usableGateway, type FederatedView, type NodeContext } from '../../../shared/catalog/index.js';
import { MeridianError } from '../../../shared/errors/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import { GatewayDialer, type MeshDialer, type MeshTarget } from '../../../shared/mesh/index.js';
import { catalogResolver, directDialer } from './direct-dialer.js';

/** What the node's mesh dialer follows. */
export interface NodeMeshDialerOptions {
  readonly node: NodeContext;
  readonly view: FederatedView;
  /** The node agent's credential, read at every new gateway session. */
  readonly agentIdentity: () => MtlsIdentity;
}

/**
 * Reaches an instance's mesh port: straight to its node when it is in this site, through this
 * site's east-west gateway (found in the catalog) when it is elsewhere. A gateway that moved is
 * followed: its dialer is replaced, and the old one closes gracefully.
 */
export function nodeMeshDialer(options: NodeMeshDialerOptions): MeshDialer & { close(): void } {
  const direct = directDialer(catalogResolver((service) => options.view.query({ service })));
  let gateway: { key: string; dialer: GatewayDialer } | undefined;
  const viaGateway = (target: MeshTarget, signal?: AbortSignal): Promise<Duplex> => {
    const address = usableGateway(options.view, options.node.site);
    if (address === undefined) {
      return Promise.reject(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `no east-west gateway of site ${options.node.site} in the catalog to reach site ${target.site}`));
    }
    const key = `${address.address}:${address.port}`;
    if (gateway?.key !== key) {
      void gateway?.dialer.close();
      gateway = { key, dialer: new GatewayDialer({ gateway: address, identity: options.agentIdentity, expectSite: options.node.site }) };
    }
    return gateway.dialer.dial(target, signal);
  };
  return {
    dial: (target, signal) => (target.site === options.node.site ? direct.dial(target, signal) : viaGateway(target, signal)),
    close: () => void gateway?.dialer.close(),
  };
}
