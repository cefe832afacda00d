import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS, type AgentConfig } from '../../../agent/index.js';
import type { GatewayConfig } from '../../../gateway/index.js';
import { ensureSiteBucket } from '../../../shared/catalog/index.js';
import { readTokenFile } from '../../../shared/identity/index.js';
import { freePort } from '../../../test/support/servers/index.js';
import { jsonLogger } from '../../../shared/telemetry/index.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import { startBenchFederation, type BenchFederation } from '../catalog/federation.js';
import { applyPolicy } from '../../../shared/policy/distribution/index.js';
import type { PolicySource } from '../../../shared/policy/index.js';
import { startProcess, type BenchProcess } from './processes.js';
import { waitForMesh } from './mesh-ready.js';

const CLI = fileURLToPath(new URL('../../../cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;
/** Same-site destination service (on agent a-2) and cross-site one (on agent b-1, exported). */
export const SAME_SITE_SERVICE = 'echo-a';
export const CROSS_SITE_SERVICE = 'echo-b';
/** The same two destinations served by agents whose global rate limits take tokens in batches (a-3, b-2). */
export const BATCH_SERVICES = { sameSite: 'echo-a-batch', crossSite: 'echo-b-batch' } as const;
/** Tokens per Redis call of the batch agents (the agent config's default). */
export const BENCH_BATCH = 10;

/**
 * The benchmark's mesh: 2 sites, a gateway process per site, agent processes a-1 (caller), a-2
 * and b-1 (destinations, global rate limits one Redis script call per decision), a-3 and b-2
 * (the same destinations again, global rate limits in batches).
 */
export interface BenchMesh {
  /** The calling service's outbound HTTP listener on agent a-1 (routes by Host `<service>.mesh`). */
  readonly outboundPort: number;
  readonly agents: { readonly caller: BenchProcess; readonly sameSite: BenchProcess; readonly crossSite: BenchProcess };
  /** Destinations of {@link BATCH_SERVICES}: idle but for the rate-limit phase. */
  readonly batchAgents: { readonly sameSite: BenchProcess; readonly crossSite: BenchProcess };
  readonly gateways: { readonly a: BenchProcess; readonly b: BenchProcess };
  readonly readySeconds: number;
  /**
   * Applies `sources` as the federation's next policy version (from site a's control user) and
   * resolves with it once every agent and gateway process logged that it enforces it.
   */
  applyPolicy(sources: readonly PolicySource[]): Promise<number>;
  /** Stops every process by PID (SIGTERM, so --cpu-prof profiles get written), the control services, NATS, and removes temp dirs. */
  stop(): Promise<void>;
}

/** Options of {@link startBenchMesh}. */
export interface BenchMeshOptions {
  readonly appPort: number;
  /** The federation's Redis, as the destination agents' `rateLimits.redis` section. */
  readonly redis: NonNullable<AgentConfig['rateLimits']>['redis'];
  /** Extra node flags for the agent and gateway processes (e.g. --cpu-prof). */
  readonly execArgv?: readonly string[];
}

const quiet = (component: string) => jsonLogger(component, process.env.MERIDIAN_BENCH_LOGS === '1' ? undefined : () => undefined);

/** Collects what must be undone, in reverse order. */
class Teardown {
  readonly #steps: (() => Promise<void> | void)[] = [];
  add(step: () => Promise<void> | void): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.#steps.reverse()) await Promise.resolve().then(step).catch((error: unknown) => console.error(`bench: teardown: ${String(error)}`));
    this.#steps.length = 0;
  }
}

interface Context {
  readonly fed: BenchFederation;
  readonly dir: string;
  readonly execArgv: readonly string[];
  readonly teardown: Teardown;
  readonly redis: BenchMeshOptions['redis'];
}

function passwordFile(context: Context, site: string): string {
  const path = join(context.dir, `${site}.password`);
  writeFileSync(path, context.fed.setups.get(site)?.password ?? '', { mode: 0o600 });
  return path;
}

async function launch(context: Context, name: string, command: 'agent' | 'gateway', config: object, ready: RegExp): Promise<BenchProcess> {
  const path = join(context.dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  const { process } = await startProcess({
    name,
    command: globalThis.process.execPath,
    args: [...AGENT_NODE_FLAGS, ...context.execArgv, CLI, command, 'run', '--config', path],
    cwd: context.dir,
    ready,
    timeoutMs: START_TIMEOUT_MS,
  });
  context.teardown.add(() => process.stop());
  return process;
}

function startGateway(context: Context, site: string): Promise<BenchProcess> {
  const files = context.fed.pki.issueIdentity(site, 'gateway', 'gw-1');
  const config: GatewayConfig = {
    site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm', name: 'gw-1',
    listen: { host: '127.0.0.1', port: 0 },
    keyFile: files.keyPath, certFile: files.certPath,
    nats: { url: context.fed.nats.site(site).url, passwordFile: passwordFile(context, site), bundleFile: context.fed.pki.bundlePath, trustDomain: 'acme.internal' },
    heartbeat: '2s',
  };
  return launch(context, `gateway-${site}`, 'gateway', config, /tunnels on 127\.0\.0\.1:\d+/);
}

async function startAgentProcess(context: Context, site: string, node: string, mode?: 'script' | 'batch'): Promise<{ process: BenchProcess; api: { url: string; token: string } }> {
  context.fed.identity(site, node);
  const files = context.fed.pki.identityPaths(site, 'agent', node);
  const dataDir = join(context.dir, node);
  mkdirSync(dataDir);
  const config: AgentConfig = {
    site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm', node,
    nats: { url: context.fed.nats.site(site).url, passwordFile: passwordFile(context, site), keyFile: files.key, certFile: files.cert, bundleFile: context.fed.pki.bundlePath, trustDomain: 'acme.internal' },
    api: { host: '127.0.0.1', port: 0 },
    dataDir,
    // Default heartbeat; a lease long enough that a saturated 2-core machine never expires an instance mid-run.
    heartbeat: '2s',
    leaseTtl: '20s',
    staleAfter: '20s',
    mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '10s' },
    ...(mode === undefined ? {} : { rateLimits: { redis: context.redis, mode, batch: BENCH_BATCH } }),
  };
  const process = await launch(context, `agent-${node}`, 'agent', config, /API (http:\/\/127\.0\.0\.1:\d+)/);
  const url = /API (http:\/\/127\.0\.0\.1:\d+)/.exec(process.output())?.[1] ?? '';
  return { process, api: { url, token: readTokenFile(join(dataDir, 'api-token'), 'agent API token') } };
}

async function register(api: { url: string; token: string }, definition: object): Promise<void> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${api.token}` };
  const response = await fetch(`${api.url}/v1/services`, { method: 'POST', headers, body: JSON.stringify(definition), signal: AbortSignal.timeout(10_000) });
  if (response.status !== 201) throw new Error(`register at ${api.url}: ${response.status} ${await response.text()}`);
}

async function startControl(context: Context, site: string): Promise<void> {
  await ensureSiteBucket(await context.fed.connect(site, `bench-boot-${site}`), site, { deadlineMs: 30_000 });
  const control: ControlService = await startControlService({ pki: context.fed.pki, site, natsUrl: context.fed.nats.site(site).url, log: quiet(`control:${site}`) });
  context.teardown.add(() => control.stop());
}

const POLICY_TIMEOUT_MS = 30_000;

/** Applies `sources` at site a and waits (bounded) until each process logged `policy version enforced` with the new version. */
async function applyAndWait(fed: BenchFederation, sources: readonly PolicySource[], processes: readonly BenchProcess[]): Promise<number> {
  const result = await applyPolicy(await fed.connectControl('a'), { sources, trustDomain: 'acme.internal', appliedBy: { site: 'a', who: 'bench' } });
  const version = result.record.version;
  const enforced = new RegExp(`"message":"policy version enforced","version":${version},`);
  const deadline = performance.now() + POLICY_TIMEOUT_MS;
  for (;;) {
    const lagging = processes.filter((p) => !enforced.test(p.output()));
    if (lagging.length === 0) return version;
    if (performance.now() > deadline) throw new Error(`policy version ${version} not enforced within ${POLICY_TIMEOUT_MS} ms by ${lagging.map((p) => p.name).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Brings the mesh up the way an operator would: a secured 2-site federation, the sites' buckets
 * and control services (in this process: they only sign certificates and reap leases), then
 * gateway and agent processes (`meridian gateway run` / `meridian agent run`), services
 * registered through the agent API; resolves once a request on each path answers 200.
 */
export async function startBenchMesh(options: BenchMeshOptions): Promise<BenchMesh> {
  const started = performance.now();
  const teardown = new Teardown();
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-mesh-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const fed = await startBenchFederation({ sites: ['a', 'b'] });
    teardown.add(() => fed.stop());
    const context: Context = { fed, dir, execArgv: options.execArgv ?? [], teardown, redis: options.redis };
    for (const site of ['a', 'b']) await startControl(context, site);
    const gateways = { a: await startGateway(context, 'a'), b: await startGateway(context, 'b') };
    const [caller, sameSite, crossSite, sameSiteBatch, crossSiteBatch] = await Promise.all([
      startAgentProcess(context, 'a', 'a-1'),
      startAgentProcess(context, 'a', 'a-2', 'script'),
      startAgentProcess(context, 'b', 'b-1', 'script'),
      startAgentProcess(context, 'a', 'a-3', 'batch'),
      startAgentProcess(context, 'b', 'b-2', 'batch'),
    ]);
    const outboundPort = await freePort();
    await register(sameSite.api, { service: SAME_SITE_SERVICE, ports: { http: options.appPort } });
    await register(crossSite.api, { service: CROSS_SITE_SERVICE, ports: { http: options.appPort }, export: true });
    await register(sameSiteBatch.api, { service: BATCH_SERVICES.sameSite, ports: { http: options.appPort } });
    await register(crossSiteBatch.api, { service: BATCH_SERVICES.crossSite, ports: { http: options.appPort }, export: true });
    // The caller's port is never dialled (nothing calls bench-client): the service exists for its outbound listener and identity.
    await register(caller.api, { service: 'bench-client', ports: { http: options.appPort }, outbound: { http: outboundPort } });
    const hosts = [SAME_SITE_SERVICE, CROSS_SITE_SERVICE, BATCH_SERVICES.sameSite, BATCH_SERVICES.crossSite].map((service) => `${service}.mesh`);
    await waitForMesh({ outboundPort, hosts, timeoutMs: 60_000 });
    const agents = { caller: caller.process, sameSite: sameSite.process, crossSite: crossSite.process };
    const batchAgents = { sameSite: sameSiteBatch.process, crossSite: crossSiteBatch.process };
    return {
      outboundPort,
      agents,
      batchAgents,
      gateways,
      readySeconds: (performance.now() - started) / 1000,
      applyPolicy: (sources) => applyAndWait(fed, sources, [...Object.values(agents), ...Object.values(batchAgents), ...Object.values(gateways)]),
      stop: () => teardown.run(),
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}
