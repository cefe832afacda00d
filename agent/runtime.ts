import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  FederatedView,
  SiteCatalogWriter,
  ensureSiteBucket,
  loadSnapshot,
  siteConnectOptions,
  startLeaseReaper,
  startSnapshotWriter,
  type NodeContext,
} from '../shared/catalog/index.js';
import { DEFAULT_DRAIN_MS, DEFAULT_MESH_SESSION_AGE, parseDuration } from '../shared/config/index.js';
import { generatePrivateKey, loadMtlsIdentity, loadOrCreateTokenFile, readText, type MtlsIdentity } from '../shared/identity/index.js';
import { AgentMetrics, createRegistry, exposition, type Logger } from '../shared/telemetry/index.js';
import { startAgentApi, type AgentApi } from './api/index.js';
import { accessLogTarget, agentTimings, apiTokenFile, type AgentConfig } from './config.js';
import type { RequestObserver } from './proxy/index.js';
import { RequestTelemetry, agentStatusCollector, nodeCertificates, openAccessLog } from './telemetry/index.js';
import { catalogStatus, startStatusPublisher, type AgentStatus, type StatusPublisher } from '../shared/status/index.js';
import { startDataPlane, type DataPlane } from './proxy/data-plane.js';
import { Registrar, followDefinitions } from './registration/index.js';
import { WorkloadIdentities, requestWorkloadCertificate } from './identity/index.js';

/** A running agent. */
export interface RunningAgent {
  readonly api: AgentApi;
  /** The file holding the API's bearer token (0600). */
  readonly apiTokenFile: string;
  readonly view: FederatedView;
  readonly registrar: Registrar;
  /** The node's proxies, when the config has a `mesh` section. */
  readonly dataPlane: DataPlane | undefined;
  /** Graceful stop: deregisters this node's instances at once, drains the proxies, then closes everything. */
  stop(): Promise<void>;
}


function loadIdentity(config: AgentConfig): MtlsIdentity {
  return loadMtlsIdentity({ keyFile: config.nats.keyFile, certFile: config.nats.certFile, bundleFile: config.nats.bundleFile, trustDomain: config.nats.trustDomain });
}

/** The NATS side: connects whenever the site's NATS answers, then attaches the view, the registrar and a lease reaper. */
class NatsAttachment {
  nc: NatsConnection | undefined;
  readonly #ready: Promise<NatsConnection>;
  #reaper: { stop(): void } | undefined;

  #status: StatusPublisher | undefined;

  constructor(
    config: AgentConfig,
    identity: MtlsIdentity,
    parts: { view: FederatedView; registrar: Registrar; heartbeatMs: number; statusIntervalMs: number; collectStatus: () => AgentStatus; log: Logger },
  ) {
    const password = readText(config.nats.passwordFile, 'NATS password').trim();
    const options = siteConnectOptions({ servers: config.nats.url, site: config.site, password, identity, name: `meridian-agent-${config.node}` });
    this.#ready = connect({ ...options, waitOnFirstConnect: true }).then(async (nc) => {
      this.nc = nc;
      const writer = new SiteCatalogWriter(await ensureSiteBucket(nc, config.site, { deadlineMs: 60_000 }), config.site);
      parts.view.connect(nc);
      parts.registrar.attach(writer);
      this.#reaper = startLeaseReaper({ view: parts.view, writer, intervalMs: parts.heartbeatMs });
      this.#status = startStatusPublisher({
        nc,
        site: config.site,
        intervalMs: parts.statusIntervalMs,
        collect: parts.collectStatus,
        onError: (error) => parts.log.warn('status report failed', { error: error.message }),
        log: parts.log,
      });
      parts.log.info('attached to the site catalog', { site: config.site, nats: config.nats.url });
      return nc;
    });
    this.#ready.catch((error: unknown) => parts.log.error('cannot attach to NATS', { error: (error as Error).message }));
  }

  /** The connection, once attached (workload certificates need the site's signer). */
  connection(): Promise<NatsConnection> {
    return this.#ready;
  }

  /** `graceful`: the node's status record is removed (a stopped agent is not a missing one). */
  async close(graceful: boolean): Promise<void> {
    await this.#status?.stop({ remove: graceful });
    this.#reaper?.stop();
    await this.nc?.drain().catch(() => undefined);
  }
}

/**
 * Starts an agent: the API and the catalog view come up at once (from the last-known-good
 * snapshot when there is one), the proxies with the workload identities kept on disk, and the
 * NATS side attaches whenever the site's NATS answers.
 */
export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  // First: a token file others can read stops the agent before anything listens.
  const tokenFile = apiTokenFile(config);
  const { token, created } = loadOrCreateTokenFile(tokenFile, 'agent API token');
  if (created) log.info('agent API token created', { path: tokenFile, mode: '0600' });
  const timings = agentTimings(config);
  const node: NodeContext = { site: config.site, region: config.region, zone: config.zone, platform: config.platform, node: config.node };
  const identity = loadIdentity(config);
  const snapshotPath = join(config.dataDir, 'catalog-snapshot.json');
  const view = new FederatedView({ staleAfterMs: timings.staleAfterMs, sites: [config.site], onError: (site, error) => log.warn('catalog watch interrupted', { site, error: error.message }) });
  for (const state of loadSnapshot(snapshotPath)) view.seed(state);
  let dataPlane: DataPlane | undefined;
  let syncing = Promise.resolve();
  const resync = (): void => {
    syncing = syncing.then(() => dataPlane?.sync()).catch((error: unknown) => log.warn('data plane sync failed', { error: (error as Error).message }));
  };
  const registrar = new Registrar({
    node,
    heartbeatMs: timings.heartbeatMs,
    leaseTtlMs: timings.leaseTtlMs,
    onChange: resync,
    onError: (error) => log.warn('catalog write failed', { error: error.message }),
    policy: {
      ...(config.allowedServices === undefined ? {} : { allowedServices: config.allowedServices }),
      catalogOwner: (instanceId) => view.query({ site: config.site }).find((entry) => entry.instance.instanceId === instanceId)?.instance.node,
    },
    ...(config.mesh === undefined ? {} : { meshPort: await reservePort(config.mesh) }),
  });
  const accessLog = openAccessLog(accessLogTarget(config), (error) => log.error('access log failed; it is off until restart', { error: error.message }));
  const certificates = { agentCertificate: identity.chain[0], dataPlane: () => dataPlane };
  const metrics = new AgentMetrics(createRegistry({ role: 'agent', site: config.site, name: config.node }), {
    site: config.site,
    certificates: () => nodeCertificates(certificates),
    catalog: () => catalogStatus(view),
    policyVersion: () => null,
    failovers: () => dataPlane?.failovers() ?? [],
  });
  const telemetry = new RequestTelemetry(config.site, { accessLog, metrics, knownService: (service) => view.query({ service }).length > 0 });
  const connected = (): boolean => nats.nc !== undefined && !nats.nc.isClosed();
  const collectStatus = agentStatusCollector({
    ...certificates,
    node,
    intervalMs: timings.statusIntervalMs,
    connected,
    services: () => registrar.list().map((r) => r.instance.service),
    telemetry,
  });
  const nats: NatsAttachment = new NatsAttachment(config, identity, { view, registrar, heartbeatMs: timings.heartbeatMs, statusIntervalMs: timings.statusIntervalMs, collectStatus, log });
  if (config.mesh !== undefined) {
    dataPlane = await startNodeDataPlane({ config, node, view, registrar, identity, nats, log, meshPort: registrar.meshPort ?? 0, onRequest: telemetry.observe });
  }
  const api = await startAgentApi({
    host: config.api.host,
    port: config.api.port,
    registry: registrar,
    reader: view,
    node,
    connected,
    metrics: () => exposition(metrics.registry),
    access: { token, tokenFile },
  });
  const definitions = config.definitionsDir === undefined ? undefined : await followDefinitions({ dir: config.definitionsDir, registrar, node, log });
  const snapshots = startSnapshotWriter(view, snapshotPath);
  log.info('agent started', { api: api.url, site: config.site, node: config.node, meshPort: registrar.meshPort });
  return {
    api,
    apiTokenFile: tokenFile,
    view,
    registrar,
    dataPlane,
    async stop() {
      await definitions?.close();
      // Deregister first so callers stop choosing this node, then let in-flight requests finish.
      await registrar.stop({ deregister: true });
      await dataPlane?.close(DEFAULT_DRAIN_MS);
      snapshots.stop();
      await snapshots.flush().catch((error: unknown) => log.warn('final catalog snapshot failed', { error: (error as Error).message }));
      view.close();
      await api.close();
      await nats.close(true);
      await accessLog?.close();
    },
  };
}

/** The configured inbound port, or a free one for port 0 (the port must be known before instances are stamped). */
async function reservePort(mesh: NonNullable<AgentConfig['mesh']>): Promise<number> {
  if (mesh.inboundPort !== 0) return mesh.inboundPort;
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, mesh.host, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function startNodeDataPlane(options: {
  config: AgentConfig;
  node: NodeContext;
  view: FederatedView;
  registrar: Registrar;
  identity: MtlsIdentity;
  nats: NatsAttachment;
  log: Logger;
  meshPort: number;
  onRequest: RequestObserver;
}): Promise<DataPlane> {
  // Renewals arrive through this once the data plane exists.
  const started: { plane?: DataPlane } = {};
  const identities = new WorkloadIdentities({
    dir: join(options.config.dataDir, 'identities'),
    bundle: options.identity.bundle,
    issue: async (service) =>
      requestWorkloadCertificate({ nc: await options.nats.connection(), agent: options.identity, site: options.node.site, service, workloadKey: generatePrivateKey() }),
    onRenewed: (service, identity) => started.plane?.renewed(service, identity),
    log: options.log,
  });
  started.plane = await startDataPlane({
    node: options.node,
    view: options.view,
    agentIdentity: options.identity,
    identities,
    registrations: () => options.registrar.list(),
    inbound: { host: options.config.mesh?.host ?? '127.0.0.1', port: options.meshPort },
    maxSessionAgeMs: parseDuration(options.config.mesh?.maxSessionAge ?? DEFAULT_MESH_SESSION_AGE, '/mesh/maxSessionAge'),
    onRequest: options.onRequest,
    log: options.log,
  });
  return started.plane;
}
