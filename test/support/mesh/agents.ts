import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type AgentConfig, type RunningAgent } from '../../../agent/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { TRUST_DOMAIN } from '../pki/index.js';
import type { SecureFederation } from '../catalog.js';
import { fileScope } from '../harness.js';
import { quietLogger } from './logs.js';
import { locality } from './sites.js';

/** How a process of `site` reaches its site's NATS server: URL, the site's password file, the trust bundle. */
export function natsAccess(fed: SecureFederation, site: string, passwordFile: string): { url: string; passwordFile: string; bundleFile: string; trustDomain: string } {
  return { url: fed.nats.site(site).url, passwordFile, bundleFile: fed.pki.bundlePath, trustDomain: TRUST_DOMAIN };
}

/** Writes `site`'s NATS password (what its agents and gateways log in with) to `path`, owner-only; returns `path`. */
export function writePasswordFile(fed: SecureFederation, site: string, path: string): string {
  writeFileSync(path, fed.setups.get(site)?.password ?? '', { mode: 0o600 });
  return path;
}

/**
 * A copy of the PKI dir's bundle.pem at `path`, for one process: what its trust watch rewrites is
 * its own file, as on a real node, not the operator's bundle.pem a rotation is writing.
 */
export function ownBundleFile(fed: SecureFederation, path: string): string {
  copyFileSync(fed.pki.bundlePath, path);
  return path;
}

/** What differs between the agents a test starts. */
export interface AgentSpec {
  readonly site: string;
  readonly node: string;
  readonly passwordFile: string;
  readonly dataDir: string;
  /** Default 500ms. */
  readonly heartbeat?: string;
}

/**
 * The config every test agent starts from, in or out of process: its own agent identity (issued
 * into the federation's PKI dir), the site's NATS credentials, an API on a free loopback port
 * and fast heartbeats.
 */
export function agentConfig(fed: SecureFederation, spec: AgentSpec): AgentConfig {
  const files = fed.pki.identityPaths(spec.site, 'agent', spec.node);
  // Issues the agent's key and certificate into those paths (once per node).
  fed.identity(spec.site, spec.node);
  return {
    site: spec.site,
    ...locality(spec.site),
    node: spec.node,
    nats: { ...natsAccess(fed, spec.site, spec.passwordFile), keyFile: files.key, certFile: files.cert },
    api: { host: '127.0.0.1', port: 0 },
    dataDir: spec.dataDir,
    heartbeat: spec.heartbeat ?? '500ms',
    // Shared CI machines stall processes for a second now and then: staleness is not what most tests measure.
    staleAfter: '3s',
    leaseTtl: '3s',
  };
}

/** Options of {@link startMeshAgent}. */
export interface MeshAgentOptions {
  readonly site: string;
  readonly node: string;
  /** Where the agent's data dir and the site's password file go. */
  readonly dir: string;
  readonly statusInterval: string;
  readonly definitionsDir?: string;
  readonly accessLog?: string;
  /** The agent's `tracing` section (default none). */
  readonly tracing?: AgentConfig['tracing'];
  /** The agent's `rateLimits` section (default none: global limits act as on a Redis loss). */
  readonly rateLimits?: AgentConfig['rateLimits'];
  /** Lifetime of the agent's own certificate (default 24 h). */
  readonly ttlMs?: number;
  /** Default quiet. */
  readonly log?: Logger;
}

/** Starts an agent in this process with its data plane (inbound and outbound listeners); stopped at the end of the file. */
export async function startMeshAgent(fed: SecureFederation, options: MeshAgentOptions): Promise<RunningAgent> {
  const { site, node } = options;
  const base = agentConfig(fed, { site, node, passwordFile: writePasswordFile(fed, site, join(options.dir, `${site}.password`)), dataDir: join(options.dir, node) });
  const config: AgentConfig = {
    ...base,
    nats: { ...base.nats, bundleFile: ownBundleFile(fed, join(options.dir, `${node}-bundle.pem`)) },
    mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '500ms' },
    telemetry: { statusInterval: options.statusInterval, ...(options.accessLog === undefined ? {} : { accessLog: options.accessLog }) },
    ...(options.definitionsDir === undefined ? {} : { definitionsDir: options.definitionsDir }),
    ...(options.tracing === undefined ? {} : { tracing: options.tracing }),
    ...(options.rateLimits === undefined ? {} : { rateLimits: options.rateLimits }),
  };
  // Re-issued in place: a short-lived agent certificate, renewed by the agent itself from then on.
  if (options.ttlMs !== undefined) fed.pki.issueIdentity(site, 'agent', node, options.ttlMs);
  const running = await startAgent(config, options.log ?? quietLogger(`agent:${node}`));
  fileScope.after(() => running.stop());
  return running;
}
