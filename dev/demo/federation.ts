import { randomBytes, type X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentConfig, type RunningAgent } from '../../agent/index.js';
import { parseDuration } from '../../shared/config/index.js';
import { PkiDirectory, type IssuedCertificate } from '../../shared/identity/index.js';
import { freePort, type SuperclusterHandle } from '../../test/support/servers/index.js';
import { jsonLogger, type Logger } from '../../shared/telemetry/index.js';
import { startGatewayProcess, type RunningGateway } from '../../gateway/runtime.js';
import { startExampleGrpcService, startExampleHttpService } from '../examples/index.js';
import { startControlService, type SiteNatsSetup } from '../../services/site/index.js';
import { startLocalSites } from '../local-sites.js';
import { DEMO_SITES, DEMO_TRUST_DOMAIN, type DemoSite } from './topology.js';

type IssuedFiles = IssuedCertificate & { keyPath: string; certPath: string };

/** One running demo site: its NATS cluster, its agent, its example workload and their identities. */
export interface RunningSite extends DemoSite {
  readonly natsUrl: string;
  readonly monitorUrl: string;
  readonly siteCa: X509Certificate;
  readonly gateway: IssuedFiles;
  readonly gatewayProcess: RunningGateway;
  readonly agent: RunningAgent;
  /** The site control service's status API (any site answers for the federation). */
  readonly statusUrl: string;
  /** The site's example app: its port, and the outbound listener it calls the mesh through. */
  readonly workload: { readonly service: string; readonly kind: 'http' | 'grpc'; readonly port: number; readonly outbound: { host: string; port: number } };
}

/** The local federation: a trust domain on disk and a NATS supercluster, one cluster per site. */
export interface DemoFederation {
  readonly pki: PkiDirectory;
  readonly nats: SuperclusterHandle;
  readonly sites: readonly RunningSite[];
  /** The bearer token of every site's status API, and the file holding it (0600). */
  readonly statusToken: string;
  readonly statusTokenFile: string;
  /** Where the agents write their access logs (`access-<site>.jsonl`). */
  readonly logDir: string;
  stop(): Promise<void>;
}

const STOP_STEP_MS = 20_000;

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** How often the demo's processes report their status: short, so a fresh demo is healthy within seconds. */
const STATUS_INTERVAL = '1s';

/**
 * Brings the demo up the way an operator would: create the trust domain, issue each site's
 * intermediate CA, bootstrap each site's NATS (TLS with a trust-domain identity, a site user
 * that may write only its own catalog), start the sites' NATS clusters linked as a supercluster,
 * then one agent per site that registers the site's example workload.
 */
export async function startDemoFederation(log: (line: string) => void): Promise<DemoFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-demo-'));
  const stops: (() => Promise<void>)[] = [() => Promise.resolve(rmSync(dir, { recursive: true, force: true }))];
  // Each step is bounded: a component that hangs on stop must not keep the demo from exiting
  // (the server registry still kills every NATS server it started when the process exits).
  const stop = async (): Promise<void> => {
    for (const step of stops.splice(0).reverse()) await withTimeout(step(), STOP_STEP_MS).catch(() => undefined);
  };
  try {
    const { pki, setups, nats } = await startLocalSites({ dir: join(dir, 'pki'), trustDomain: DEMO_TRUST_DOMAIN, sites: DEMO_SITES.map((s) => s.name) });
    stops.push(() => nats.stop());
    log(`files in ${dir} (removed when the demo stops)`);
    log(`trust domain ${DEMO_TRUST_DOMAIN}: root CA in ${pki.dir}; ${setups.size} site CAs, NATS identities and site credentials`);
    const statusToken = randomBytes(24).toString('base64url');
    const statusTokenFile = join(dir, 'status-token');
    writeFileSync(statusTokenFile, `${statusToken}\n`, { mode: 0o600 });
    const sites: RunningSite[] = [];
    for (const site of DEMO_SITES) sites.push(await startSite({ site, pki, nats, setup: setupOf(setups, site.name), dir, stops, statusToken }));
    return { pki, nats, sites, statusToken, statusTokenFile, logDir: join(dir, 'logs'), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function setupOf(setups: ReadonlyMap<string, SiteNatsSetup>, site: string): SiteNatsSetup {
  const setup = setups.get(site);
  if (setup === undefined) throw new Error(`no NATS setup for site ${site}`);
  return setup;
}

/** Each site's example workload: an HTTP or gRPC service that also calls the others through the mesh. */
const WORKLOADS: Record<string, { service: string; kind: 'http' | 'grpc' }> = {
  'eu-k8s': { service: 'catalog', kind: 'http' },
  'us-vm': { service: 'pricing', kind: 'grpc' },
  onprem: { service: 'ledger', kind: 'http' },
};

const quiet = (component: string): Logger => jsonLogger(component, () => undefined);

async function startSite(options: {
  site: DemoSite;
  pki: PkiDirectory;
  nats: SuperclusterHandle;
  setup: SiteNatsSetup;
  dir: string;
  stops: (() => Promise<void>)[];
  statusToken: string;
}): Promise<RunningSite> {
  const { site, pki, nats } = options;
  const natsUrl = nats.site(site.name).url;
  const passwordFile = join(options.dir, `${site.name}.nats-password`);
  writeFileSync(passwordFile, options.setup.password, { mode: 0o600 });
  const control = await startControlService({
    pki,
    site: site.name,
    region: site.region,
    platform: site.platform,
    natsUrl,
    heartbeatMs: 1000,
    status: { intervalMs: parseDuration(STATUS_INTERVAL, 'status interval'), api: { port: 0, tokens: [options.statusToken] } },
    log: quiet(`control:${site.name}`),
  });
  options.stops.push(() => control.stop());
  const gatewayFiles = pki.issueIdentity(site.name, 'gateway', 'gw-1');
  const gateway = await startGatewayProcess(
    {
      site: site.name, region: site.region, zone: site.zone, platform: site.platform, name: 'gw-1',
      listen: { host: '127.0.0.1', port: 0 },
      keyFile: gatewayFiles.keyPath, certFile: gatewayFiles.certPath,
      nats: { url: natsUrl, passwordFile, bundleFile: pki.bundlePath, trustDomain: DEMO_TRUST_DOMAIN },
      heartbeat: '1s',
      statusInterval: STATUS_INTERVAL,
    },
    quiet(`gateway:${site.name}`),
  );
  options.stops.push(() => gateway.stop(1000));
  const agent = await startSiteAgent({ ...options, natsUrl, passwordFile });
  const workload = WORKLOADS[site.name] ?? { service: `${site.name}-app`, kind: 'http' as const };
  const outbound = { host: '127.0.0.1', port: await freePort() };
  const app = workload.kind === 'http'
    ? await startExampleHttpService({ service: workload.service, site: site.name, outbound })
    : await startExampleGrpcService({ service: workload.service, site: site.name, outbound });
  options.stops.push(() => app.close());
  const check = workload.kind === 'http' ? { type: 'http' as const, port: 'http', interval: '2s' } : { type: 'grpc' as const, port: 'grpc', interval: '2s' };
  await agent.registrar.register(
    { service: workload.service, ports: { [workload.kind]: app.port }, protocol: workload.kind, version: '1.0.0', export: true, outbound: { http: outbound.port }, ...(workload.kind === 'http' ? { check } : {}) },
    { kind: 'api' },
  );
  return { ...site, natsUrl, monitorUrl: nats.site(site.name).monitorUrl, siteCa: pki.loadSiteCertificate(site.name), gateway: gatewayFiles, gatewayProcess: gateway, agent, statusUrl: control.status.api?.url ?? '', workload: { ...workload, port: app.port, outbound } };
}

async function startSiteAgent(options: { site: DemoSite; pki: PkiDirectory; natsUrl: string; passwordFile: string; dir: string; stops: (() => Promise<void>)[] }): Promise<RunningAgent> {
  const { site, pki } = options;
  const node = `${site.name}-node-1`;
  const agentFiles = pki.issueIdentity(site.name, 'agent', node);
  const config: AgentConfig = {
    site: site.name,
    region: site.region,
    zone: site.zone,
    platform: site.platform,
    node,
    nats: { url: options.natsUrl, passwordFile: options.passwordFile, keyFile: agentFiles.keyPath, certFile: agentFiles.certPath, bundleFile: pki.bundlePath, trustDomain: DEMO_TRUST_DOMAIN },
    api: { host: '127.0.0.1', port: 0 },
    dataDir: join(options.dir, 'agents', site.name),
    heartbeat: '1s',
    mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '10s' },
    telemetry: { statusInterval: STATUS_INTERVAL, accessLog: join(options.dir, 'logs', `access-${site.name}.jsonl`) },
  };
  const agent = await startAgent(config, quiet(`agent:${site.name}`));
  options.stops.push(() => agent.stop());
  return agent;
}
