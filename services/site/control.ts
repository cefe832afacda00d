import type { X509Certificate } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { FederatedView, SiteCatalogWriter, assertJetStream, ensureSiteBucket, startLeaseReaper } from '../../shared/catalog/index.js';
import { startOrUndo, type UndoSteps } from '../../shared/process/index.js';
import { LiveIdentity, type PkiDirectory, type SiteAuthority } from '../../shared/identity/index.js';
import type { RoleRenewal } from '../../shared/renewal/index.js';
import { startControlRenewal } from './role-renewal.js';
import { connectAsControl } from './control-nats.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { startSigner } from '../signer/index.js';
import { DEFAULT_STATUS_INTERVAL_MS, MERIDIAN_VERSION } from '../../shared/config/index.js';
import { certificateStatus } from '../../shared/status/index.js';
import { startFederationStatus, type FederationStatusService } from '../status/index.js';
import { keepSiteBuckets } from './bucket-keeper.js';
import { startTrustPublisher, type TrustPublisher } from './trust-publisher.js';
import type { NatsServerFiles } from './nats-server-cert.js';
import { join as joinPath } from 'node:path';
import { LivePolicy } from '../../shared/policy/index.js';
import { ensurePolicyStreams, startPolicyFollower, type PolicyFollower } from '../../shared/policy/distribution/index.js';
import { startJoinService, type JoinService, type JoinServiceConfig } from './join/index.js';

/** A running site control service. */
export interface ControlService {
  readonly view: FederatedView;
  readonly status: FederationStatusService;
  readonly join: JoinService;
  /** The control service's own `svc/control` identity now, and its renewal. */
  readonly identity: LiveIdentity;
  readonly renewal: RoleRenewal;
  /** The site NATS connection (one for the service's life: nats.js reconnects it). */
  readonly nc: NatsConnection;
  /** The policy the control service enforces now (the signer's revocations), from its copy in the PKI dir then the site's mirror. */
  readonly policy: LivePolicy;
  /** What keeps `policy` on the newest version, and reports it (version, rejected). */
  readonly policyFollower: PolicyFollower;
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

/** Options of {@link startControlService}. */
export interface ControlServiceOptions {
  readonly pki: PkiDirectory;
  readonly site: string;
  readonly natsUrl: string;
  /** Lease reaping and the check for missing buckets (default 2 s). */
  readonly heartbeatMs?: number;
  readonly region?: string;
  readonly platform?: string;
  readonly status?: ControlStatusOptions;
  /** Lifetime of the workload certificates it signs (default 24 h). */
  readonly workloadTtlMs?: number;
  /** Lifetime of the agent, gateway and its own control certificates it issues on renewal (default 24 h). */
  readonly roleTtlMs?: number;
  /** The site's nats-server certificate files and pid file: kept renewed, nats-server reloaded by SIGHUP. */
  readonly natsServer?: NatsServerFiles;
  /** The join endpoint (nodes trade a join token for their credentials); absent: none. */
  readonly join?: JoinServiceConfig;
  readonly log: Logger;
}

/**
 * The site's control service: it holds the site CA key, signs the node agents' workload
 * certificates (only for services registered on the asking node), reaps the site's expired
 * node leases even when no agent of the site is left to do it, and recreates the site's buckets
 * when they are gone. A start that fails (NATS unreachable or without JetStream, the status port
 * taken: the error names the config field) leaves nothing running.
 */
export async function startControlService(options: ControlServiceOptions): Promise<ControlService> {
  const api = options.status?.api;
  const targets = [
    ...(api === undefined ? [] : [{ field: '/status/port', host: api.host ?? '127.0.0.1', port: api.port }]),
    ...(options.join === undefined ? [] : [{ field: '/join/port', host: options.join.host ?? '127.0.0.1', port: options.join.port }]),
  ];
  return startOrUndo((undo) => launchControl(options, undo), targets);
}

/**
 * The control service's status reporting and, when configured, its status API (HTTPS with the
 * live identity when `tls`): site CA and own certificate expiry are part of what it reports.
 */
async function startControlStatus(parts: {
  options: ControlServiceOptions;
  nc: NatsConnection;
  view: FederatedView;
  identity: LiveIdentity;
  siteCa: () => X509Certificate;
  policy: PolicyFollower;
}): Promise<FederationStatusService> {
  const { options, identity } = parts;
  const api = options.status?.api;
  return startFederationStatus({
    nc: parts.nc,
    site: options.site,
    region: options.region ?? 'unknown',
    platform: options.platform ?? 'unknown',
    view: parts.view,
    certificates: () => {
      const leaf = identity.current.chain[0];
      return [certificateStatus('site-ca', parts.siteCa()), ...(leaf === undefined ? [] : [certificateStatus('workload', leaf)])];
    },
    intervalMs: options.status?.intervalMs ?? DEFAULT_STATUS_INTERVAL_MS,
    version: MERIDIAN_VERSION,
    policy: () => parts.policy.report(),
    livePolicy: parts.policy.policy,
    policyLatest: () => parts.policy.latest(),
    log: options.log,
    ...(api === undefined
      ? {}
      : { api: { port: api.port, ...(api.host === undefined ? {} : { host: api.host }), access: { tokens: api.tokens, ...(api.tls === true ? { bundle: identity.current.bundle } : {}) }, ...(api.tls === true ? { tls: identity.current } : {}) } }),
  });
}

/**
 * The site's certificate signer and the trust publisher that follows the PKI dir: a renewed site
 * CA or a new bundle starts a new signer, which subscribes before the old one leaves, so no
 * request goes unanswered.
 */
function startSigning(parts: { options: ControlServiceOptions; nc: NatsConnection; view: FederatedView; identity: LiveIdentity; policy: LivePolicy }): { trust: TrustPublisher; signer: { stop(): void } } {
  const { options, nc } = parts;
  const signWith = (authority: SiteAuthority): { stop(): void } =>
    startSigner({
      nc,
      authority,
      catalog: parts.view,
      policy: parts.policy,
      ...(options.workloadTtlMs === undefined ? {} : { ttlMs: options.workloadTtlMs }),
      ...(options.roleTtlMs === undefined ? {} : { roleTtlMs: options.roleTtlMs }),
      onIssued: (caller, issuedId) => options.log.info(issuedId.uri === caller.uri ? 'role certificate renewed' : 'workload certificate issued', { agent: caller.uri, identity: issuedId.uri }),
      onRefused: (error) => options.log.warn('workload certificate refused', { code: error.code, error: error.message }),
    });
  let current = signWith(options.pki.loadSite(options.site));
  const publish = (): TrustPublisher => startTrustPublisher({
    nc,
    pki: options.pki,
    site: options.site,
    log: options.log,
    onAuthority: (authority) => {
      const previous = current;
      current = signWith(authority);
      previous.stop();
    },
    // Its own TLS consumers (NATS, the status API, the join endpoint) trust what it publishes.
    onBundle: (bundle) => parts.identity.replace({ bundle }),
    ...(options.natsServer === undefined ? {} : { natsServer: options.natsServer }),
  });
  try {
    return { trust: publish(), signer: { stop: () => current.stop() } };
  } catch (error) {
    current.stop();
    throw error;
  }
}

/** The control service's on-disk policy copy, in the PKI dir beside the site CA. */
export function controlPolicyFile(pki: PkiDirectory, site: string): string {
  return joinPath(pki.dir, 'sites', site, 'policy.json');
}

async function launchControl(options: ControlServiceOptions, undo: UndoSteps): Promise<ControlService> {
  const { pki, site } = options;
  const identity = new LiveIdentity(pki.issueMtlsIdentity(site, 'svc', 'control', options.roleTtlMs), {
    onListenerError: (error) => options.log.error('identity change not applied everywhere', { error: error.message }),
  });
  const renewal = startControlRenewal({ pki, site, live: identity, log: options.log, ...(options.roleTtlMs === undefined ? {} : { ttlMs: options.roleTtlMs }) });
  undo.push(() => renewal.stop());
  const nc = await connectAsControl({ pki, site, natsUrl: options.natsUrl, identity: () => identity.current, name: `meridian-control-${site}` });
  undo.push(() => nc.close());
  await assertJetStream(nc, options.natsUrl);
  const policy = new LivePolicy(undefined, { onListenerError: (error) => options.log.error('policy change not applied everywhere', { error: error.message }) });
  // A first start on a NATS nobody bootstrapped: the streams exist before they are followed. Cut off
  // from the origin's cluster, the mirror is enough; without it, the bucket keeper retries.
  await ensurePolicyStreams(nc, site, { deadlineMs: 2_000 }).catch((error: unknown) => options.log.warn('policy streams not created yet; the bucket keeper retries', { site, error: (error as Error).message }));
  const policyFollower = startPolicyFollower({ connection: () => Promise.resolve(nc), site, trustDomain: pki.trustDomain(), file: controlPolicyFile(pki, site), policy, log: options.log });
  undo.push(() => policyFollower.stop());
  const writer = new SiteCatalogWriter(await ensureSiteBucket(nc, site), site);
  const view = new FederatedView({ sites: [site], onError: (s, error) => options.log.warn('catalog watch interrupted', { site: s, error: error.message }) });
  view.connect(nc);
  undo.push(() => view.close());
  const { trust, signer } = startSigning({ options, nc, view, identity, policy });
  undo.push(() => signer.stop());
  undo.push(() => trust.stop());
  const reaper = startLeaseReaper({ view, writer, intervalMs: options.heartbeatMs ?? 2000 });
  undo.push(() => reaper.stop());
  const keeper = keepSiteBuckets({ nc, site, intervalMs: options.heartbeatMs ?? 2000, log: options.log });
  undo.push(() => keeper.stop());
  const join = await startJoinService({ nc, pki, site, identity, authority: () => trust.authority, join: options.join, policy, log: options.log });
  undo.push(() => join.stop());
  const status = await startControlStatus({ options, nc, view, identity, siteCa: () => trust.authority.certificate, policy: policyFollower });
  identity.onChange((next) => status.api?.setIdentity(next));
  await nc.flush();
  options.log.info('control service started', { site, status: status.api?.url });
  return {
    view,
    status,
    join,
    identity,
    renewal,
    nc,
    policy,
    policyFollower,
    async stop() {
      renewal.stop();
      policyFollower.stop();
      await join.stop();
      await status.stop();
      keeper.stop();
      reaper.stop();
      trust.stop();
      signer.stop();
      view.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
