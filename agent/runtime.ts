import { createServer } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { FederatedView, loadSnapshotOrSetAside, startSnapshotWriter, type NodeContext } from '../shared/catalog/index.js';
import type { ListenTarget } from '../shared/errors/index.js';
import { startOrUndo, type UndoSteps } from '../shared/process/index.js';
import { DEFAULT_DRAIN_MS, DEFAULT_MESH_SESSION_AGE, parseDuration } from '../shared/config/index.js';
import { LivePolicy } from '../shared/policy/index.js';
import { startPolicyFollower, type PolicyFollower } from '../shared/policy/distribution/index.js';
import { LiveIdentity, generatePrivateKey, loadOrCreateTokenFile, type TrustBundle } from '../shared/identity/index.js';
import { AgentMetrics, createRegistry, exposition, type Logger } from '../shared/telemetry/index.js';
import { startAgentApi, type AgentApi } from './api/index.js';
import { startConsulApi, type ConsulApi } from './consul/index.js';
import { accessLogTarget, agentTimings, apiTokenFile, rateLimitSettings, tracingSettings, type AgentConfig } from './config.js';
import { startRateLimiter, type RateLimiter } from './proxy/ratelimit/index.js';
import { startTracing, type AgentTracing } from './tracing/index.js';
import type { RequestObserver } from './proxy/index.js';
import { RequestTelemetry, agentStatusCollector, nodeCertificates, openAccessLog } from './telemetry/index.js';
import { catalogStatus } from '../shared/status/index.js';
import { NatsAttachment } from './nats-attachment.js';
import { startAgentDns, type DnsServer } from './dns/index.js';
import { startDataPlane, type DataPlane } from './proxy/data-plane.js';
import { Registrar, followDefinitions } from './registration/index.js';
import { WorkloadIdentities, loadAgentIdentity, requestWorkloadCertificate, startAgentCredentials, type AgentCredentials } from './identity/index.js';

/** A running agent. */
export interface RunningAgent {
  readonly api: AgentApi;
  /** The Consul-compatible API, when the config has a `consulApi` section. */
  readonly consulApi: ConsulApi | undefined;
  /** The file holding the API's bearer token (0600). */
  readonly apiTokenFile: string;
  readonly view: FederatedView;
  readonly registrar: Registrar;
  /** The node's proxies, when the config has a `mesh` section. */
  readonly dataPlane: DataPlane | undefined;
  /** The DNS server, when the config has a `dns` section. */
  readonly dns: DnsServer | undefined;
  /** The agent's own identity now: renewal and the trust document replace it. */
  readonly identity: LiveIdentity;
  /** Its renewal (count, expiry) and trust watch (applied version). */
  readonly credentials: AgentCredentials;
  /** The policy the agent enforces now (the on-disk copy at start, then the site's mirror). */
  readonly policy: LivePolicy;
  /** The tracer of proxied requests, when the config has a `tracing` section. */
  readonly tracing: AgentTracing | undefined;
  /** What keeps `policy` on the newest version, and reports it (version, rejected). */
  readonly policyFollower: PolicyFollower;
  /** The site NATS connection, once attached (one for the agent's life: nats.js reconnects it). */
  nats(): NatsConnection | undefined;
  /** Graceful stop: deregisters this node's instances at once, drains the proxies, then closes everything. */
  stop(): Promise<void>;
}

/** Options of {@link startAgent}. */
export interface StartAgentOptions {
  /** Aborts a start in progress (SIGTERM while NATS is dialled): what had started is closed, the start rejects with MERIDIAN_ERR_ABORTED. */
  readonly signal?: AbortSignal;
}

/** How long a start waits for the site's NATS to answer before serving from the snapshot alone. */
const FIRST_CONTACT_MS = 5_000;

/**
 * Starts an agent: the API and the catalog view come up at once (from the last-known-good
 * snapshot when there is one; an unreadable one is set aside), the proxies with the workload
 * identities kept on disk, and the NATS side attaches whenever the site's NATS answers. A start
 * fails, with nothing left running, when a port is taken (the error names the config field) or
 * when the site's NATS answers without JetStream.
 */
export async function startAgent(config: AgentConfig, log: Logger, options: StartAgentOptions = {}): Promise<RunningAgent> {
  return startOrUndo((undo) => launchAgent(config, log, { signal: options.signal, undo }), listenTargets(config));
}

/** The agent's configured listeners, to name the field of a port already taken. */
function listenTargets(config: AgentConfig): ListenTarget[] {
  const api: ListenTarget = { field: '/api/port', host: config.api.host, port: config.api.port };
  const mesh: ListenTarget[] = config.mesh === undefined ? [] : [{ field: '/mesh/inboundPort', host: config.mesh.host, port: config.mesh.inboundPort }];
  const dns: ListenTarget[] = config.dns === undefined ? [] : [{ field: '/dns/port', host: config.dns.host, port: config.dns.port }];
  const consul: ListenTarget[] = config.consulApi === undefined ? [] : [{ field: '/consulApi/port', host: config.consulApi.host, port: config.consulApi.port }];
  return [api, ...mesh, ...dns, ...consul];
}

/** What a start has to close when it fails, and its abort signal. */
interface Launch {
  readonly signal: AbortSignal | undefined;
  readonly undo: UndoSteps;
}

async function launchAgent(config: AgentConfig, log: Logger, launch: Launch): Promise<RunningAgent> {
  // First: a token file others can read stops the agent before anything listens.
  const tokenFile = apiTokenFile(config);
  const { token, created } = loadOrCreateTokenFile(tokenFile, 'agent API token');
  if (created) log.info('agent API token created', { path: tokenFile, mode: '0600' });
  const timings = agentTimings(config);
  const node: NodeContext = { site: config.site, region: config.region, zone: config.zone, platform: config.platform, node: config.node };
  const identity = new LiveIdentity(loadAgentIdentity(config), { onListenerError: (error) => log.error('identity change not applied everywhere', { error: error.message }) });
  const policy = new LivePolicy(undefined, { onListenerError: (error) => log.error('policy change not applied everywhere', { error: error.message }) });
  const snapshotPath = join(config.dataDir, 'catalog-snapshot.json');
  const view = new FederatedView({ staleAfterMs: timings.staleAfterMs, sites: [config.site], onError: (site, error) => log.warn('catalog watch interrupted', { site, error: error.message }) });
  const seeds = loadSnapshotOrSetAside(snapshotPath, (movedTo, error) =>
    log.warn('catalog snapshot unreadable: set aside, the catalog comes from NATS', { snapshot: snapshotPath, movedTo, error: error.message }),
  );
  for (const state of seeds) view.seed(state);
  launch.undo.push(() => view.close());
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
  launch.undo.push(() => registrar.stop({ deregister: false }));
  const accessLog = openAccessLog(accessLogTarget(config), (error) => log.error('access log failed; it is off until restart', { error: error.message }));
  launch.undo.push(() => accessLog?.close());
  // Set once the NATS side exists; a status report before that has no trust section.
  const late: { credentials?: AgentCredentials } = {};
  const certificates = { agentCertificate: () => identity.current.chain[0], dataPlane: () => dataPlane };
  const metrics = new AgentMetrics(createRegistry({ role: 'agent', site: config.site, name: config.node }), {
    site: config.site,
    certificates: () => nodeCertificates(certificates),
    catalog: () => catalogStatus(view),
    policy: () => policyFollower.report(),
    failovers: () => dataPlane?.failovers() ?? [],
  });
  const tracingConfig = tracingSettings(config);
  const tracing = tracingConfig === undefined ? undefined : startTracing({ ...tracingConfig, site: config.site, node: config.node, log, registry: metrics.registry });
  launch.undo.push(() => tracing?.stop());
  const telemetry = new RequestTelemetry(config.site, { accessLog, metrics, tracing, knownService: (service) => view.query({ service }).length > 0 });
  const connected = (): boolean => nats.nc !== undefined && !nats.nc.isClosed();
  const collectStatus = agentStatusCollector({
    ...certificates,
    node,
    intervalMs: timings.statusIntervalMs,
    connected,
    services: () => registrar.list().map((r) => r.instance.service),
    telemetry,
    trust: () => late.credentials?.trust,
    policy: () => policyFollower.report(),
  });
  const nats: NatsAttachment = new NatsAttachment(config, () => identity.current, { view, registrar, heartbeatMs: timings.heartbeatMs, statusIntervalMs: timings.statusIntervalMs, collectStatus, log });
  launch.undo.push(() => nats.close(false));
  // Before the data plane: a restart while cut off enforces the on-disk copy from its first request.
  const policyFollower = startPolicyFollower({ connection: () => nats.connection(), site: config.site, trustDomain: config.nats.trustDomain, file: join(config.dataDir, 'policy.json'), policy, log });
  launch.undo.push(() => policyFollower.stop());
  let rateLimiter: RateLimiter | undefined;
  if (config.mesh !== undefined) {
    const limiter = (rateLimiter = await startRateLimiter(rateLimitSettings(config), policy, log));
    launch.undo.push(() => limiter.close());
    dataPlane = await startNodeDataPlane({ config, node, view, registrar, identity, policy, nats, log, meshPort: registrar.meshPort ?? 0, onRequest: telemetry.observe, rateLimiter: limiter });
  }
  launch.undo.push(() => dataPlane?.close(0));
  const dns = config.dns === undefined ? undefined : await startAgentDns(config.dns, { catalog: view, site: config.site, meshAddress: () => outboundHttpAddress(dataPlane), log });
  launch.undo.push(() => dns?.close());
  const credentials = startAgentCredentials({ config, live: identity, connection: () => nats.connection(), log });
  late.credentials = credentials;
  launch.undo.push(() => credentials.stop());
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
  launch.undo.push(() => api.close());
  const consul = config.consulApi;
  const consulApi = consul === undefined ? undefined : await startConsulApi({
    host: consul.host,
    port: consul.port,
    registry: registrar,
    reader: view,
    node,
    connected,
    access: { token, tokenFile, anonymousReads: consul.anonymousReads },
    maxBlockingQueries: consul.maxBlockingQueries,
  });
  launch.undo.push(() => consulApi?.close());
  const definitions = config.definitionsDir === undefined ? undefined : await followDefinitions({ dir: config.definitionsDir, registrar, node, log });
  launch.undo.push(() => definitions?.close());
  const snapshots = startSnapshotWriter(view, snapshotPath, { onError: (error) => log.warn('catalog snapshot failed', { snapshot: snapshotPath, error: error.message }) });
  launch.undo.push(() => snapshots.stop());
  // Everything above serves meanwhile; a NATS without JetStream fails the start here.
  await nats.firstContact(FIRST_CONTACT_MS, launch.signal);
  log.info('agent started', { api: api.url, site: config.site, node: config.node, meshPort: registrar.meshPort });
  return {
    api,
    consulApi,
    apiTokenFile: tokenFile,
    view,
    registrar,
    dataPlane,
    dns,
    identity,
    credentials,
    policy,
    policyFollower,
    tracing,
    nats: () => nats.nc,
    async stop() {
      credentials.stop();
      policyFollower.stop();
      await definitions?.close();
      // Deregister first so callers stop choosing this node, then let in-flight requests finish.
      await registrar.stop({ deregister: true });
      await dataPlane?.close(DEFAULT_DRAIN_MS);
      await rateLimiter?.close();
      // After the drain: the spans of the last requests go out in the final flush.
      await tracing?.stop();
      await dns?.close();
      snapshots.stop();
      await snapshots.flush().catch((error: unknown) => log.warn('final catalog snapshot failed', { error: (error as Error).message }));
      view.close();
      await api.close();
      await consulApi?.close();
      await nats.close(true);
      await accessLog?.close();
    },
  };
}

/** Where `<svc>.mesh` points: the address of an outbound HTTP listener of this node (all bind the same host). */
function outboundHttpAddress(dataPlane: DataPlane | undefined): string | undefined {
  for (const proxy of dataPlane?.outbound().values() ?? []) if (proxy.httpPort !== undefined) return proxy.address;
  return undefined;
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
  identity: LiveIdentity;
  policy: LivePolicy;
  nats: NatsAttachment;
  log: Logger;
  meshPort: number;
  onRequest: RequestObserver;
  rateLimiter: RateLimiter;
}): Promise<DataPlane> {
  // Renewals arrive through this once the data plane exists.
  const started: { plane?: DataPlane } = {};
  const live = options.identity;
  const identities = new WorkloadIdentities({
    dir: join(options.config.dataDir, 'identities'),
    bundle: () => live.current.bundle,
    issue: async (service) =>
      requestWorkloadCertificate({ nc: await options.nats.connection(), agent: live.current, site: options.node.site, service, workloadKey: generatePrivateKey() }),
    onRenewed: (service, identity) => started.plane?.renewed(service, identity),
    log: options.log,
  });
  started.plane = await startDataPlane({
    node: options.node,
    view: options.view,
    agentIdentity: () => live.current,
    identities,
    registrations: () => options.registrar.list(),
    inbound: { host: options.config.mesh?.host ?? '127.0.0.1', port: options.meshPort },
    maxSessionAgeMs: parseDuration(options.config.mesh?.maxSessionAge ?? DEFAULT_MESH_SESSION_AGE, '/mesh/maxSessionAge'),
    policy: options.policy,
    encodedSlashes: options.config.mesh?.encodedSlashes ?? 'reject',
    rateLimiter: options.rateLimiter,
    onRequest: options.onRequest,
    log: options.log,
  });
  // A new trust bundle reaches every workload identity too: their listeners and pools verify peers with it.
  live.onChange((next, previous) => {
    if (next.bundle !== previous.bundle) rebundle(identities, next.bundle, started.plane);
  });
  return started.plane;
}

function rebundle(identities: WorkloadIdentities, bundle: TrustBundle, plane: DataPlane | undefined): void {
  for (const [service, identity] of identities.rebundle(bundle)) plane?.renewed(service, identity);
}
