import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FederatedView, SiteCatalogWriter, deriveSiteNatsPassword, ensureSiteBucket, siteConnectOptions, startLeaseReaper } from '../../shared/catalog/index.js';
import { readPrivateKey, type PkiDirectory } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { startSigner } from '../signer/index.js';
import { DEFAULT_STATUS_INTERVAL_MS, MERIDIAN_VERSION } from '../../shared/config/index.js';
import { certificateStatus } from '../../shared/status/index.js';
import { startFederationStatus, type FederationStatusService } from '../status/index.js';

/** A running site control service. */
export interface ControlService {
  readonly view: FederatedView;
  readonly status: FederationStatusService;
  stop(): Promise<void>;
}

/** The status side of a control service. */
export interface ControlStatusOptions {
  /** Serve the status API; absent: the control service still reports and follows the others. */
  readonly api?: {
    readonly host?: string;
    readonly port: number;
    readonly tokens: readonly string[];
    /** Serve HTTPS with the control service's identity; trust-domain client certificates are then accepted too. */
    readonly tls?: boolean;
  };
  /** How often every reporter of the site writes its status. Default 2 s. */
  readonly intervalMs?: number;
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
  region?: string;
  platform?: string;
  status?: ControlStatusOptions;
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
  const siteCa = pki.loadSiteCertificate(site);
  const leaf = issued.chain[0];
  const api = options.status?.api;
  const status = await startFederationStatus({
    nc,
    site,
    region: options.region ?? 'unknown',
    platform: options.platform ?? 'unknown',
    view,
    certificates: () => [certificateStatus('site-ca', siteCa), ...(leaf === undefined ? [] : [certificateStatus('workload', leaf)])],
    intervalMs: options.status?.intervalMs ?? DEFAULT_STATUS_INTERVAL_MS,
    version: MERIDIAN_VERSION,
    log: options.log,
    ...(api === undefined
      ? {}
      : { api: { port: api.port, ...(api.host === undefined ? {} : { host: api.host }), access: { tokens: api.tokens, ...(api.tls === true ? { bundle: identity.bundle } : {}) }, ...(api.tls === true ? { tls: identity } : {}) } }),
  });
  await nc.flush();
  options.log.info('control service started', { site, status: status.api?.url });
  return {
    view,
    status,
    async stop() {
      await status.stop();
      reaper.stop();
      signer.stop();
      view.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
