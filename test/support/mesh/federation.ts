import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentConfig, type RunningAgent } from '../../../agent/index.js';
import { startGatewayProcess, type RunningGateway } from '../../../gateway/runtime.js';
import { jsonLogger } from '../../../shared/telemetry/index.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import { parseDuration } from '../../../shared/config/index.js';
import { fileScope } from '../harness.js';
import { startSecureFederation, type SecureFederation } from '../catalog.js';

/** A 3-site mesh in this process: NATS supercluster, a control service and a gateway per site. */
export interface MeshFixture {
  readonly fed: SecureFederation;
  readonly dir: string;
  readonly gateways: Map<string, RunningGateway>;
  readonly controls: Map<string, ControlService>;
  /** Starts an agent with a data plane on `site` (node name `node`). */
  agent(site: string, node: string, options?: { definitionsDir?: string; accessLog?: string }): Promise<RunningAgent>;
  /** Starts (or restarts, on the same port) a site's gateway. */
  startGateway(site: string, port?: number): Promise<RunningGateway>;
}

const quiet = (component: string) => jsonLogger(component, process.env.MERIDIAN_TEST_LOGS === '1' ? undefined : () => undefined);

/** Options of {@link startMesh}. */
export interface MeshOptions {
  readonly workloadTtlMs?: number;
  /** Status reports of every process (default every 2 s) and the control services' status API (default none). */
  readonly status?: { readonly interval: string; readonly api?: { readonly tokens: readonly string[]; readonly tls?: boolean } };
}

export async function startMesh(sites: readonly string[], options: MeshOptions = {}): Promise<MeshFixture> {
  const fed = await startSecureFederation(sites);
  const dir = mkdtempSync(join(tmpdir(), 'meridian-mesh-'));
  fileScope.after(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const statusInterval = options.status?.interval ?? '2s';
  const controls = new Map<string, ControlService>();
  for (const site of sites) {
    const api = options.status?.api;
    const control = await startControlService({
      pki: fed.pki,
      site,
      region: `region-${site}`,
      platform: 'vm',
      natsUrl: fed.nats.site(site).url,
      heartbeatMs: 500,
      status: { intervalMs: parseDuration(statusInterval, 'status interval'), ...(api === undefined ? {} : { api: { port: 0, ...api } }) },
      ...(options.workloadTtlMs === undefined ? {} : { workloadTtlMs: options.workloadTtlMs }),
      log: quiet(`control:${site}`),
    });
    controls.set(site, control);
    fileScope.after(() => control.stop());
  }
  const passwordFile = (site: string): string => {
    const path = join(dir, `${site}.password`);
    writeFileSync(path, fed.setups.get(site)?.password ?? '', { mode: 0o600 });
    return path;
  };
  const gateways = new Map<string, RunningGateway>();
  const startGateway = async (site: string, port = 0): Promise<RunningGateway> => {
    const files = fed.pki.issueIdentity(site, 'gateway', 'gw-1');
    const gateway = await startGatewayProcess(
      {
        site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm', name: 'gw-1',
        listen: { host: '127.0.0.1', port },
        keyFile: files.keyPath, certFile: files.certPath,
        nats: { url: fed.nats.site(site).url, passwordFile: passwordFile(site), bundleFile: fed.pki.bundlePath, trustDomain: 'acme.internal' },
        heartbeat: '500ms',
        statusInterval,
        metrics: { host: '127.0.0.1', port: 0 },
      },
      quiet(`gateway:${site}`),
    );
    gateways.set(site, gateway);
    fileScope.after(() => gateway.stop(1000));
    return gateway;
  };
  for (const site of sites) await startGateway(site);
  const agent = async (site: string, node: string, options: { definitionsDir?: string; accessLog?: string } = {}): Promise<RunningAgent> => {
    const files = fed.pki.identityPaths(site, 'agent', node);
    fed.identity(site, node);
    const config: AgentConfig = {
      site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm', node,
      nats: { url: fed.nats.site(site).url, passwordFile: passwordFile(site), keyFile: files.key, certFile: files.cert, bundleFile: fed.pki.bundlePath, trustDomain: 'acme.internal' },
      api: { host: '127.0.0.1', port: 0 },
      dataDir: join(dir, node),
      heartbeat: '500ms',
      leaseTtl: '3s',
      staleAfter: '3s',
      mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '500ms' },
      telemetry: { statusInterval, ...(options.accessLog === undefined ? {} : { accessLog: options.accessLog }) },
      ...(options.definitionsDir === undefined ? {} : { definitionsDir: options.definitionsDir }),
    };
    const running = await startAgent(config, quiet(`agent:${node}`));
    fileScope.after(() => running.stop());
    return running;
  };
  return { fed, dir, gateways, controls, agent, startGateway };
}
