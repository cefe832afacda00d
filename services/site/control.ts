import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FederatedView, SiteCatalogWriter, deriveSiteNatsPassword, ensureSiteBucket, siteConnectOptions, startLeaseReaper } from '../../shared/catalog/index.js';
import { readPrivateKey, type PkiDirectory } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { startSigner } from '../signer/index.js';

/** A running site control service. */
export interface ControlService {
  readonly view: FederatedView;
  stop(): Promise<void>;
}

/**
 * The site's control service: it holds the site CA key, signs the node agents' workload
 * certificates (only for services registered on the asking node), and reaps the site's expired
 * node leases even when no agent of the site is left to do it.
 */
export async function startControlService(options: {
  pki: PkiDirectory;
  site: string;
  natsUrl: string;
  heartbeatMs?: number;
  /** Lifetime of the workload certificates it signs (default 24 h). */
  workloadTtlMs?: number;
  log: Logger;
}): Promise<ControlService> {
  const { pki, site } = options;
  const issued = pki.issueIdentity(site, 'svc', 'control');
  const identity = { privateKey: readPrivateKey(issued.keyPath), chain: issued.chain, bundle: pki.loadBundle() };
  const password = deriveSiteNatsPassword(readPrivateKey(pki.sitePaths(site).key), pki.trustDomain(), site, 'control');
  const nc: NatsConnection = await connect({ ...siteConnectOptions({ servers: options.natsUrl, site, user: 'control', password, identity, name: `meridian-control-${site}` }) });
  const writer = new SiteCatalogWriter(await ensureSiteBucket(nc, site), site);
  const view = new FederatedView({ sites: [site], onError: (s, error) => options.log.warn('catalog watch interrupted', { site: s, error: error.message }) });
  view.connect(nc);
  const signer = startSigner({
    nc,
    authority: pki.loadSite(site),
    catalog: view,
    ...(options.workloadTtlMs === undefined ? {} : { ttlMs: options.workloadTtlMs }),
    onIssued: (agent, workload) => options.log.info('workload certificate issued', { agent: agent.uri, identity: workload.uri }),
    onRefused: (error) => options.log.warn('workload certificate refused', { code: error.code, error: error.message }),
  });
  const reaper = startLeaseReaper({ view, writer, intervalMs: options.heartbeatMs ?? 2000 });
  await nc.flush();
  options.log.info('control service started', { site });
  return {
    view,
    async stop() {
      reaper.stop();
      signer.stop();
      view.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
