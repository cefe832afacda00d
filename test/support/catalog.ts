import type { NatsConnection } from '@nats-io/transport-node';
import { FederatedView, type NodeContext } from '../../shared/catalog/index.js';
import type { MtlsIdentity, PkiDirectory } from '../../shared/identity/index.js';
import type { SuperclusterHandle } from './servers/index.js';
import type { SiteNatsSetup } from '../../services/site/index.js';
import { startSigner } from '../../services/signer/index.js';
import { startBenchFederation } from '../../dev/bench/catalog/federation.js';
import type { SiteServerFiles } from '../../dev/local-sites.js';
import { fileScope } from './harness.js';
import { locality } from './mesh/sites.js';

/** A secured federation for tests: trust-domain TLS and per-site NATS users on every site, stopped at the end of the file. */
export interface SecureFederation {
  readonly nats: SuperclusterHandle;
  readonly pki: PkiDirectory;
  readonly setups: ReadonlyMap<string, SiteNatsSetup>;
  /** A new connection as an agent of `site`, to `site`'s server unless `server` names another. */
  connectAgent(site: string, node: string, server?: string): Promise<NatsConnection>;
  identity(site: string, node: string): MtlsIdentity;
  node(site: string, node: string): NodeContext;
  /** A connection as the site's control service (signer, reaper). */
  connectControl(site: string): Promise<NatsConnection>;
}

/** Starts `sites`; with `serverFiles`, each nats-server gets a pid file and its own CA file (for a control service's `natsServer`). */
export async function startSecureFederation(sites: readonly string[], options: { serverFiles?: (site: string) => SiteServerFiles } = {}): Promise<SecureFederation> {
  const fed = await startBenchFederation({ sites, ...options });
  fileScope.after(() => fed.stop());
  return {
    nats: fed.nats,
    pki: fed.pki,
    setups: fed.setups,
    identity: (site, node) => fed.identity(site, node),
    connectAgent: (site, node, server) => fed.connect(site, node, server),
    connectControl: (site) => fed.connectControl(site),
    node: (site, node) => ({ site, node, ...locality(site) }),
  };
}

/**
 * A site's signer as its control service runs it: on a control connection, checking callers
 * against a catalog view of the site. Stopped at the end of the file; `issued` collects the
 * SPIFFE IDs it signed.
 */
export async function useSiteSigner(fed: SecureFederation, site: string, options: { roleTtlMs: number; issued: string[] }): Promise<{ control: NatsConnection; view: FederatedView }> {
  const control = await fed.connectControl(site);
  const view = new FederatedView({ sites: [site] });
  view.connect(control);
  fileScope.after(() => Promise.resolve(view.close()));
  const signer = startSigner({ nc: control, authority: fed.pki.loadSite(site), catalog: view, roleTtlMs: options.roleTtlMs, onIssued: (_caller, identity) => options.issued.push(identity.uri) });
  fileScope.after(() => Promise.resolve(signer.stop()));
  await control.flush();
  return { control, view };
}
