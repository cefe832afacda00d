import { join } from 'node:path';
import type { RunningAgent } from '../../../agent/index.js';
import { startGatewayProcess, type RunningGateway } from '../../../gateway/runtime.js';
import { parseDuration } from '../../../shared/config/index.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import type { JoinServiceConfig } from '../../../services/site/join/index.js';
import type { NatsServerFiles } from '../../../services/site/nats-server-cert.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { startSecureFederation, type SecureFederation } from '../catalog.js';
import { fileScope, useTempDir } from '../harness.js';
import { natsAccess, ownBundleFile, startMeshAgent, writePasswordFile, type MeshAgentOptions } from './agents.js';
import { quietLogger } from './logs.js';
import { locality } from './sites.js';

/** Options of {@link startFederationMesh}. */
export interface FederationMeshOptions {
  readonly workloadTtlMs?: number;
  /** Lifetime of the agents', gateways' and control services' own certificates, first issue and renewals (default 24 h). */
  readonly roleTtlMs?: number;
  /** Status reports of every process (default every 2 s) and the control services' status API (default none). */
  readonly status?: { readonly interval: string; readonly api?: { readonly tokens: readonly string[]; readonly tls?: boolean } };
  /** Every control service's join endpoint (default none). */
  readonly join?: JoinServiceConfig;
  /**
   * Each site's nats-server runs with a pid file and its own CA file, and its control service keeps
   * them (`natsServer`): the server certificate lives `roleTtlMs` too and follows a rotation.
   */
  readonly natsServer?: boolean;
  /** The logger of each component (`control:<site>`, `gateway:<site>`, `agent:<node>`); default quiet. */
  readonly logger?: (component: string) => Logger;
}

/** What a test may add to an agent of the mesh. */
export type MeshAgentExtras = Pick<MeshAgentOptions, 'definitionsDir' | 'accessLog' | 'tracing' | 'rateLimits'>;

/** A whole mesh in this process: NATS supercluster, a control service and a gateway per site, agents on demand. */
export interface FederationMesh {
  readonly fed: SecureFederation;
  readonly dir: string;
  readonly gateways: Map<string, RunningGateway>;
  readonly controls: Map<string, ControlService>;
  /** Starts an agent with a data plane on `site` (node name `node`). */
  agent(site: string, node: string, options?: MeshAgentExtras): Promise<RunningAgent>;
  /** Starts (or restarts, on the same port) a site's gateway. */
  startGateway(site: string, port?: number): Promise<RunningGateway>;
}

/** Starts `sites` (a secured federation, then a control service and a gateway per site); everything stops at the end of the file. */
export async function startFederationMesh(sites: readonly string[], options: FederationMeshOptions = {}): Promise<FederationMesh> {
  const dir = useTempDir('meridian-mesh-');
  const fed = await startSecureFederation(sites, options.natsServer === true ? { serverFiles: (site) => serverFiles(dir, site) } : {});
  const statusInterval = options.status?.interval ?? '2s';
  const logger = options.logger ?? quietLogger;
  const controls = new Map<string, ControlService>();
  for (const site of sites) {
    const tls = fed.setups.get(site)?.tls;
    const natsServer = options.natsServer === true && tls !== undefined ? { natsServer: { certFile: tls.certFile, keyFile: tls.keyFile, ...serverFiles(dir, site), ...ttl(options) } } : {};
    controls.set(site, await startControl(fed, site, { ...controlOptions(options), ...natsServer }));
  }
  const gateways = new Map<string, RunningGateway>();
  const startGateway = async (site: string, port = 0): Promise<RunningGateway> => {
    const gateway = await startMeshGateway(fed, { site, port, dir, statusInterval, log: logger(`gateway:${site}`), ...ttl(options) });
    gateways.set(site, gateway);
    return gateway;
  };
  for (const site of sites) await startGateway(site);
  return {
    fed,
    dir,
    gateways,
    controls,
    startGateway,
    agent: (site, node, agentOptions = {}) => startMeshAgent(fed, { site, node, dir, statusInterval, log: logger(`agent:${node}`), ...ttl(options), ...agentOptions }),
  };
}

/** The mesh's options that a control service takes as they are. */
function controlOptions(options: FederationMeshOptions): Omit<FederationMeshOptions, 'natsServer'> {
  const { workloadTtlMs, roleTtlMs, status, logger, join } = options;
  return {
    ...(workloadTtlMs === undefined ? {} : { workloadTtlMs }),
    ...(roleTtlMs === undefined ? {} : { roleTtlMs }),
    ...(status === undefined ? {} : { status }),
    ...(logger === undefined ? {} : { logger }),
    ...(join === undefined ? {} : { join }),
  };
}

function ttl(options: FederationMeshOptions): { ttlMs?: number } {
  return options.roleTtlMs === undefined ? {} : { ttlMs: options.roleTtlMs };
}

/** Where a site's nats-server writes its pid and reads its CA file, in the mesh's dir. */
function serverFiles(dir: string, site: string): { pidFile: string; caFile: string } {
  return { pidFile: join(dir, `nats-${site}.pid`), caFile: join(dir, `nats-${site}-ca.pem`) };
}

/** A site's control service (signer, reaper, status), stopped at the end of the file. */
export async function startControl(fed: SecureFederation, site: string, options: Omit<FederationMeshOptions, 'natsServer'> & { natsServer?: NatsServerFiles } = {}): Promise<ControlService> {
  const api = options.status?.api;
  const control = await startControlService({
    pki: fed.pki,
    site,
    region: locality(site).region,
    platform: 'vm',
    natsUrl: fed.nats.site(site).url,
    heartbeatMs: 500,
    status: { intervalMs: parseDuration(options.status?.interval ?? '2s', 'status interval'), ...(api === undefined ? {} : { api: { port: 0, ...api } }) },
    ...(options.workloadTtlMs === undefined ? {} : { workloadTtlMs: options.workloadTtlMs }),
    ...(options.roleTtlMs === undefined ? {} : { roleTtlMs: options.roleTtlMs }),
    ...(options.join === undefined ? {} : { join: options.join }),
    ...(options.natsServer === undefined ? {} : { natsServer: options.natsServer }),
    log: (options.logger ?? quietLogger)(`control:${site}`),
  });
  fileScope.after(() => control.stop());
  return control;
}

/** Where and how a gateway process of the mesh runs. */
export interface MeshGatewayOptions {
  readonly site: string;
  /** 0 for a free port; a former port to restart in place. */
  readonly port: number;
  /** Where the site's password file goes. */
  readonly dir: string;
  readonly statusInterval: string;
  /** Lifetime of the gateway's certificate (default 24 h). */
  readonly ttlMs?: number;
  /** Default quiet. */
  readonly log?: Logger;
}

/** A site's gateway (`gw-1`) with its identity from the federation's PKI, its NATS login and metrics; stopped (1 s drain) at the end of the file. */
export async function startMeshGateway(fed: SecureFederation, options: MeshGatewayOptions): Promise<RunningGateway> {
  const { site } = options;
  const files = fed.pki.issueIdentity(site, 'gateway', 'gw-1', options.ttlMs);
  const gateway = await startGatewayProcess(
    {
      site,
      ...locality(site),
      name: 'gw-1',
      listen: { host: '127.0.0.1', port: options.port },
      keyFile: files.keyPath,
      certFile: files.certPath,
      nats: { ...natsAccess(fed, site, writePasswordFile(fed, site, join(options.dir, `${site}.password`))), bundleFile: ownBundleFile(fed, join(options.dir, `gateway-${site}-bundle.pem`)) },
      heartbeat: '500ms',
      statusInterval: options.statusInterval,
      metrics: { host: '127.0.0.1', port: 0 },
    },
    options.log ?? quietLogger(`gateway:${site}`),
  );
  fileScope.after(() => gateway.stop(1000));
  return gateway;
}
