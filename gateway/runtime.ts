import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Type, type Static } from '@sinclair/typebox';
import { FederatedView, SiteCatalogWriter, ensureSiteBucket, siteConnectOptions, type NodeContext } from '../shared/catalog/index.js';
import { DurationSchema, NameSchema, PlatformSchema, loadJsonConfig, parseDuration } from '../shared/config/index.js';
import { loadMtlsIdentity, readText } from '../shared/identity/index.js';
import { GatewayMetrics, createRegistry, serveMetrics, type Logger, type MetricsServer } from '../shared/telemetry/index.js';
import { Registrar } from '../agent/index.js';
import { GATEWAY_SERVICE } from '../shared/mesh/index.js';
import { checkLocalInstance } from './resolver.js';
import { gatewayStatusCollector, linkRecord, streamCounters } from './status-report.js';
import { certificateStatus, startStatusPublisher } from '../shared/status/index.js';
import type { X509Certificate } from 'node:crypto';
import { startGateway } from './server.js';
import type { Gateway, GatewayResolver } from './types.js';

const Name = NameSchema;

/**
 * The gateway process's configuration file (JSON). Defaults: listen 127.0.0.1:15440, heartbeat 2s,
 * status report every 2s.
 * `advertise` is the address other sites dial (default: the listen host).
 */
export const GatewayConfigSchema = Type.Object(
  {
    site: Name,
    region: Type.String({ minLength: 1 }),
    zone: Type.String({ minLength: 1 }),
    platform: PlatformSchema,
    name: Name,
    listen: Type.Object({ host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535, default: 15440 }) }, { default: {}, additionalProperties: false }),
    advertise: Type.Optional(Type.String({ minLength: 1 })),
    keyFile: Type.String({ minLength: 1 }),
    certFile: Type.String({ minLength: 1 }),
    nats: Type.Object(
      { url: Type.String({ pattern: '^(nats|tls)://' }), passwordFile: Type.String({ minLength: 1 }), bundleFile: Type.String({ minLength: 1 }), trustDomain: Type.String({ minLength: 1 }) },
      { additionalProperties: false },
    ),
    heartbeat: Type.String({ ...DurationSchema, default: '2s' }),
    /** How often the gateway reports its tunnels to the site's control service (default 2s). */
    statusInterval: Type.Optional(Type.String(DurationSchema)),
    /** Prometheus metrics at http://<host>:<port>/metrics (host default 127.0.0.1); absent: not served. */
    metrics: Type.Optional(
      Type.Object({ host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type GatewayConfig = Static<typeof GatewayConfigSchema>;

/** Reads and validates a gateway config file; errors name the file and every bad field. */
export function loadGatewayConfig(path: string): GatewayConfig {
  return loadJsonConfig(GatewayConfigSchema, path);
}

/** Routes from the site's catalog view: local instances by id, other sites' gateways by their catalog entry. */
export function catalogGatewayResolver(view: FederatedView, site: string): GatewayResolver {
  return {
    localInstance: (target) => checkLocalInstance(target, view.query({ service: target.service, site }).find((e) => e.instance.instanceId === target.instanceId)?.instance),
    gatewayFor: (remote) => {
      const entry = view.query({ service: GATEWAY_SERVICE, site: remote }).find((e) => e.usable && e.instance.ports.tunnel !== undefined);
      return entry === undefined ? undefined : { address: entry.instance.address, port: entry.instance.ports.tunnel ?? 0 };
    },
  };
}

/** Serves the gateway's tunnel metrics when the config asks for them. */
async function serveGatewayMetrics(config: GatewayConfig, gateway: Gateway, certificate: X509Certificate | undefined): Promise<MetricsServer | undefined> {
  if (config.metrics === undefined) return undefined;
  const registry = createRegistry({ role: 'gateway', site: config.site, name: config.name });
  new GatewayMetrics(registry, {
    links: () => gateway.links().map(linkRecord),
    stats: () => streamCounters(gateway),
    certificates: () => (certificate === undefined ? [] : [certificateStatus('gateway', certificate)]),
  });
  return serveMetrics(registry, { host: config.metrics.host, port: config.metrics.port });
}

/** Drain bound of a stopping gateway: above the agents' mesh session age (10 s), so streams move on first. */
export const GATEWAY_DRAIN_MS = 15_000;

/** A running gateway process. */
export interface RunningGateway {
  readonly gateway: Gateway;
  readonly view: FederatedView;
  /** Where the metrics are served, when configured. */
  readonly metricsUrl: string | undefined;
  stop(drainMs?: number): Promise<void>;
}

/**
 * Starts a site's east-west gateway: it follows the federated catalog, registers itself as
 * `meridian-gateway` (so agents and other gateways find it), and serves tunnels.
 */
export async function startGatewayProcess(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const identity = loadMtlsIdentity({ keyFile: config.keyFile, certFile: config.certFile, bundleFile: config.nats.bundleFile, trustDomain: config.nats.trustDomain });
  const password = readText(config.nats.passwordFile, 'NATS password').trim();
  const nc: NatsConnection = await connect({ ...siteConnectOptions({ servers: config.nats.url, site: config.site, password, identity, name: `meridian-gateway-${config.name}` }), waitOnFirstConnect: true });
  const view = new FederatedView({ sites: [config.site] });
  view.connect(nc);
  const gateway = await startGateway({ identity, resolver: catalogGatewayResolver(view, config.site), host: config.listen.host, port: config.listen.port, logger: log });
  const node: NodeContext = { site: config.site, region: config.region, zone: config.zone, platform: config.platform, node: `gateway-${config.name}` };
  const registrar = new Registrar({ node, heartbeatMs: parseDuration(config.heartbeat, '/heartbeat'), onError: (error) => log.warn('catalog write failed', { error: error.message }) });
  registrar.attach(new SiteCatalogWriter(await ensureSiteBucket(nc, config.site), config.site));
  await registrar.register(
    { service: GATEWAY_SERVICE, instanceId: `${config.site}-${config.name}`, address: config.advertise ?? config.listen.host, ports: { tunnel: gateway.address.port }, protocol: 'tcp' },
    { kind: 'api' },
  );
  const statusIntervalMs = parseDuration(config.statusInterval ?? '2s', '/statusInterval');
  const status = startStatusPublisher({
    nc,
    site: config.site,
    intervalMs: statusIntervalMs,
    collect: gatewayStatusCollector({ gateway, name: config.name, region: config.region, platform: config.platform, intervalMs: statusIntervalMs, certificate: () => identity.chain[0] }),
    onError: (error) => log.warn('status report failed', { error: error.message }),
  });
  const metrics = await serveGatewayMetrics(config, gateway, identity.chain[0]);
  log.info('gateway started', { site: config.site, address: `${gateway.address.address}:${gateway.address.port}` });
  return {
    gateway,
    view,
    metricsUrl: metrics?.url,
    // The catalog entry stays: a restarted gateway re-registers the same instance, so peers keep
    // their address; one that does not come back leaves the catalog when its lease expires.
    async stop(drainMs = GATEWAY_DRAIN_MS) {
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
