import { GATEWAY_SERVICE, type GatewayAddress } from '../mesh/index.js';
import type { CatalogReader } from './types.js';

/**
 * A usable east-west gateway of `site` from the catalog (passing, not stale past its policy, with
 * a `tunnel` port), or undefined when there is none. Agents look up their own site's gateway with
 * it, gateways the other sites'.
 */
export function usableGateway(catalog: Pick<CatalogReader, 'query'>, site: string): GatewayAddress | undefined {
  const entry = catalog.query({ service: GATEWAY_SERVICE, site }).find((e) => e.usable && e.instance.ports['tunnel'] !== undefined);
  if (entry === undefined) return undefined;
  return { address: entry.instance.address, port: entry.instance.ports['tunnel'] ?? 0 };
}
