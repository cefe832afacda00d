import {
  catalogResolver,
  directDialer,
  startInbound,
  startOutbound,
  type InboundOptions,
  type InboundProxy,
  type LocalService,
  type OutboundOptions,
  type OutboundProxy,
} from '../../../agent/proxy/index.js';
import type { TestTrustDomain } from '../pki/index.js';
import type { TestCatalog } from './entries.js';
import { regionOf } from './sites.js';

/** A node's data plane in this process: its inbound listener serving `services`, each with its own new identity at `site`. */
export async function startNode(
  pki: TestTrustDomain,
  site: string,
  services: Record<string, LocalService>,
  extra: Partial<InboundOptions> = {},
): Promise<InboundProxy> {
  const identities = new Map(Object.keys(services).map((name) => [name, pki.identity(site, 'svc', name)] as const));
  return startInbound({ port: 0, identities, localServices: (name) => services[name], ...extra });
}

/**
 * A calling service's outbound listener at `site`, with a new identity, dialing instances of
 * `catalog` directly (same site); `extra` may set another identity or dialer (a gateway's).
 */
export async function startCaller(
  pki: TestTrustDomain,
  catalog: TestCatalog,
  caller: { site: string; service: string },
  extra: Partial<OutboundOptions> = {},
): Promise<OutboundProxy> {
  return startOutbound({
    service: caller.service,
    identity: pki.identity(caller.site, 'svc', caller.service),
    locality: { site: caller.site, region: regionOf(caller.site) },
    candidates: catalog.candidates,
    dialer: directDialer(catalogResolver(catalog.candidates)),
    http: 0,
    ...extra,
  });
}
