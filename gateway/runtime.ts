import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FederatedView, LeaseRegistrar, SiteCatalogWriter, assertJetStream, ensureSiteBucket, explainKvWriteFailure, siteConnectOptions, statusBucketName, parseServiceDefinition, toInstance, usableGateway, type NodeContext, type ServiceInstance } from '../shared/catalog/index.js';
import { DEFAULT_MESH_SESSION_AGE_MS, DEFAULT_STATUS_INTERVAL, parseDuration } from '../shared/config/index.js';
import type { GatewayConfig } from './config.js';
import { LiveIdentity, loadMtlsIdentity, readText } from '../shared/identity/index.js';
import { startGatewayCredentials, type GatewayCredentials } from './credentials.js';
import { GatewayMetrics, createRegistry, serveMetrics, type Logger, type MetricsServer } from '../shared/telemetry/index.js';
import { GATEWAY_SERVICE } from '../shared/mesh/index.js';
import { startLinkProbes } from './probe.js';
import { checkLocalInstance } from './resolver.js';
import { gatewayStatusCollector, linkRecord, streamCounters } from './status-report.js';
import { certificateStatus, startStatusPublisher } from '../shared/status/index.js';
import type { ListenTarget } from '../shared/errors/index.js';
import { startOrUndo, type UndoSteps } from '../shared/process/index.js';
import type { X509Certificate } from 'node:crypto';
import { startGateway } from './server.js';
import { dirname, join } from 'node:path';
import { LivePolicy, type PolicyReport } from '../shared/policy/index.js';
import { startPolicyFollower, type PolicyFollower } from '../shared/policy/distribution/index.js';
import type { Gateway, GatewayResolver } from './types.js';

/** Routes from the site's catalog view: local instances by id, other sites' gateways by their catalog entry. */
export function catalogGatewayResolver(view: FederatedView, site: string): GatewayResolver {
  return {
    localInstance: (target) => checkLocalInstance(target, view.query({ service: target.service, site }).find((e) => e.instance.instanceId === target.instanceId)?.instance),
    gatewayFor: (remote) => usableGateway(view, remote),
  };
}

/** The gateway's own catalog entry (`meridian-gateway`, port `tunnel`): agents and other sites' gateways dial it. */
function gatewayInstance(config: GatewayConfig, node: NodeContext, port: number, leaseTtlMs: number): ServiceInstance {
  const definition = parseServiceDefinition(
    { service: GATEWAY_SERVICE, instanceId: `${config.site}-${config.name}`, address: config.advertise ?? config.listen.host, ports: { tunnel: port }, protocol: 'tcp' },
    `gateway ${config.name}`,
  );
  return toInstance(definition, node, { leaseTtlMs });
}

/** Serves the gateway's tunnel metrics when the config asks for them. */
async function serveGatewayMetrics(
  config: GatewayConfig,
  gateway: Gateway,
  sources: { certificate: () => X509Certificate | undefined; policy: () => PolicyReport },
): Promise<MetricsServer | undefined> {
  if (config.metrics === undefined) return undefined;
  const registry = createRegistry({ role: 'gateway', site: config.site, name: config.name });
  new GatewayMetrics(registry, {
    links: () => gateway.links().map(linkRecord),
    stats: () => streamCounters(gateway),
    policy: sources.policy,
    certificates: () => {
      const leaf = sources.certificate();
      return leaf === undefined ? [] : [certificateStatus('gateway', leaf)];
    },
  });
  return serveMetrics(registry, { host: config.metrics.host, port: config.metrics.port });
}

/** The gateway's on-disk policy copy: beside its certificate (the config has no data dir), named by site and gateway. */
export function gatewayPolicyFile(config: Pick<GatewayConfig, 'certFile' | 'site' | 'name'>): string {
  return join(dirname(config.certFile), `policy-${config.site}-${config.name}.json`);
}

/** Drain bound of a stopping gateway: above the agents' mesh session age, so their streams move on first. */
export const GATEWAY_DRAIN_MS = DEFAULT_MESH_SESSION_AGE_MS + 5_000;

/** A running gateway process. */
export interface RunningGateway {
  readonly gateway: Gateway;
  readonly view: FederatedView;
  /** Where the metrics are served, when configured. */
  readonly metricsUrl: string | undefined;
  /** The gateway's own identity now: renewal and the trust document replace it. */
  readonly identity: LiveIdentity;
  /** Its renewal (count, expiry) and trust watch (applied version). */
  readonly credentials: GatewayCredentials;
  /** The site NATS connection (one for the gateway's life: nats.js reconnects it). */
  readonly nc: NatsConnection;
  /** The policy the gateway enforces now (its revocations), from its on-disk copy then the site's mirror. */
  readonly policy: LivePolicy;
  /** What keeps `policy` on the newest version, and reports it (version, rejected). */
  readonly policyFollower: PolicyFollower;
  stop(drainMs?: number): Promise<void>;
}

/**
 * Starts a site's east-west gateway: it follows the federated catalog, registers itself as
 * `meridian-gateway` (so agents and other gateways find it), serves tunnels, and opens one to
 * every other site's gateway as soon as the catalog names it. A start that fails (a port taken:
 * the error names the config field; a NATS without JetStream) leaves nothing running.
 */
export async function startGatewayProcess(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const listeners: ListenTarget[] = [{ field: '/listen/port', host: config.listen.host, port: config.listen.port }];
  if (config.metrics !== undefined) listeners.push({ field: '/metrics/port', host: config.metrics.host, port: config.metrics.port });
  return startOrUndo((undo) => launchGateway(config, log, undo), listeners);
}

async function launchGateway(config: GatewayConfig, log: Logger, undo: UndoSteps): Promise<RunningGateway> {
  const identity = loadMtlsIdentity({ keyFile: config.keyFile, certFile: config.certFile, bundleFile: config.nats.bundleFile, trustDomain: config.nats.trustDomain });
  const live = new LiveIdentity(identity, { onListenerError: (error) => log.error('identity change not applied everywhere', { error: error.message }) });
  const password = readText(config.nats.passwordFile, 'NATS password').trim();
  const policy = new LivePolicy(undefined, { onListenerError: (error) => log.error('policy change not applied everywhere', { error: error.message }) });
  const nc: NatsConnection = await connect({
    ...siteConnectOptions({ servers: config.nats.url, site: config.site, password, identity: () => live.current, name: `meridian-gateway-${config.name}` }),
    waitOnFirstConnect: true,
  });
  undo.push(() => nc.close());
  await assertJetStream(nc, config.nats.url);
  const policyFollower = startPolicyFollower({ connection: () => Promise.resolve(nc), site: config.site, trustDomain: config.nats.trustDomain, file: gatewayPolicyFile(config), policy, log });
  undo.push(() => policyFollower.stop());
  const view = new FederatedView({ sites: [config.site] });
  view.connect(nc);
  undo.push(() => view.close());
  const gateway = await startGateway({ identity, resolver: catalogGatewayResolver(view, config.site), host: config.listen.host, port: config.listen.port, policy, logger: log });
  undo.push(() => gateway.close());
  const credentials = startGatewayCredentials({ config, live, nc, gateway, log });
  undo.push(() => credentials.stop());
  const node: NodeContext = { site: config.site, region: config.region, zone: config.zone, platform: config.platform, node: `gateway-${config.name}` };
  const registrar = new LeaseRegistrar({ node, heartbeatMs: parseDuration(config.heartbeat, '/heartbeat'), onError: (error) => log.warn('catalog write failed', { error: error.message }) });
  registrar.attach(new SiteCatalogWriter(await ensureSiteBucket(nc, config.site), config.site));
  undo.push(() => registrar.stop({ deregister: false }));
  await registrar.put(gatewayInstance(config, node, gateway.address.port, registrar.leaseTtlMs));
  const probes = startLinkProbes({ view, gateway, log });
  undo.push(() => probes.stop());
  const statusIntervalMs = parseDuration(config.statusInterval ?? DEFAULT_STATUS_INTERVAL, '/statusInterval');
  const status = startStatusPublisher({
    nc,
    site: config.site,
    intervalMs: statusIntervalMs,
    collect: gatewayStatusCollector({ gateway, name: config.name, region: config.region, platform: config.platform, intervalMs: statusIntervalMs, certificate: () => live.current.chain[0], trust: () => credentials.trust, policy: () => policyFollower.report() }),
    onError: (error) => void explainKvWriteFailure(nc, statusBucketName(config.site), error).then((explained) => log.warn('status report failed', { error: explained.message })),
  });
  undo.push(() => status.stop());
  const metrics = await serveGatewayMetrics(config, gateway, { certificate: () => live.current.chain[0], policy: () => policyFollower.report() });
  log.info('gateway started', { site: config.site, address: `${gateway.address.address}:${gateway.address.port}` });
  return {
    gateway,
    view,
    metricsUrl: metrics?.url,
    identity: live,
    credentials,
    nc,
    policy,
    policyFollower,
    // The catalog entry stays: a restarted gateway re-registers the same instance, so peers keep
    // their address; one that does not come back leaves the catalog when its lease expires.
    async stop(drainMs = GATEWAY_DRAIN_MS) {
      credentials.stop();
      policyFollower.stop();
      probes.stop();
      // Like its catalog entry, the status record stays: a restarted gateway overwrites it.
      await status.stop();
      await metrics?.close();
      await registrar.stop({ deregister: false });
      await gateway.drain(drainMs);
      view.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
