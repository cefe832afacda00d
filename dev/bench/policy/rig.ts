import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../../../agent/index.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import { jsonLogger, type Logger } from '../../../shared/telemetry/index.js';
import { startBenchFederation, type BenchFederation } from '../catalog/federation.js';
import { BENCH_TRUST_DOMAIN } from './realistic.js';

/** One agent of the rig and when it started enforcing each version (performance.now()). */
export interface RigAgent {
  readonly site: string;
  readonly node: string;
  readonly agent: RunningAgent;
  readonly enforcedAt: Map<number, number>;
}

/** A federation of sites, each with its control service and agents, all in this process. */
export interface PolicyRig {
  readonly fed: BenchFederation;
  readonly controls: ReadonlyMap<string, ControlService>;
  readonly agents: readonly RigAgent[];
  /** Resolves when every agent enforces `version` or newer, rejects after `timeoutMs` naming the ones that do not. */
  untilEnforced(version: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const quiet = (component: string): Logger => jsonLogger(component, process.env.MERIDIAN_BENCH_LOGS === '1' ? undefined : () => undefined);

/**
 * Brings up `sites` the way test/support/mesh does, without test support: a secured supercluster
 * (its bootstrap creates each site's buckets and policy mirror; the first site bootstrapped holds
 * the origin), then per site a control service and `agentsPerSite` agents (with `dataPlane`, their
 * inbound listener too, whose policy listener runs before the bench's), each agent's
 * `policy.onChange` timestamped.
 */
export async function startPolicyRig(options: { sites: readonly string[]; agentsPerSite: number; dataPlane?: boolean }): Promise<PolicyRig> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-policy-'));
  const controls = new Map<string, ControlService>();
  const agents: RigAgent[] = [];
  let fed: BenchFederation | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled(agents.map((a) => a.agent.stop()));
    await Promise.allSettled([...controls.values()].map((c) => c.stop()));
    await fed?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    fed = await startBenchFederation({ sites: options.sites });
    for (const site of options.sites) controls.set(site, await startControlService({ pki: fed.pki, site, natsUrl: fed.nats.site(site).url, log: quiet(`control:${site}`) }));
    for (const site of options.sites) {
      for (let n = 1; n <= options.agentsPerSite; n++) agents.push(await startRigAgent(fed, { dir, site, node: `${site}-${n}`, dataPlane: options.dataPlane === true }));
    }
    return { fed, controls, agents, untilEnforced: (version, timeoutMs) => untilEnforced(agents, version, timeoutMs), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startRigAgent(fed: BenchFederation, options: { dir: string; site: string; node: string; dataPlane: boolean }): Promise<RigAgent> {
  const { site, node } = options;
  fed.identity(site, node);
  const files = fed.pki.identityPaths(site, 'agent', node);
  const passwordFile = join(options.dir, `${node}.password`);
  writeFileSync(passwordFile, fed.setups.get(site)?.password ?? '', { mode: 0o600 });
  const agent = await startAgent(
    {
      site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm', node,
      nats: { url: fed.nats.site(site).url, passwordFile, keyFile: files.key, certFile: files.cert, bundleFile: fed.pki.bundlePath, trustDomain: BENCH_TRUST_DOMAIN },
      api: { host: '127.0.0.1', port: 0 },
      dataDir: join(options.dir, node),
      heartbeat: '2s',
      ...(options.dataPlane ? { mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '10s' } } : {}),
    },
    quiet(`agent:${node}`),
  );
  const enforcedAt = new Map<number, number>();
  agent.policy.onChange((next) => {
    if (next.version !== null) enforcedAt.set(next.version, performance.now());
  });
  return { site, node, agent, enforcedAt };
}

function untilEnforced(agents: readonly RigAgent[], version: number, timeoutMs: number): Promise<void> {
  const lagging = (): RigAgent[] => agents.filter((a) => (a.agent.policy.current.version ?? 0) < version);
  if (lagging().length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stops: (() => void)[] = [];
    const done = (error?: Error): void => {
      clearTimeout(timer);
      for (const stopListening of stops) stopListening();
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => done(new Error(`version ${version} not enforced within ${timeoutMs} ms by ${lagging().map((a) => `${a.node} (at ${a.agent.policy.current.version})`).join(', ')}`)), timeoutMs);
    for (const a of agents) stops.push(a.agent.policy.onChange(() => (lagging().length === 0 ? done() : undefined)));
  });
}
