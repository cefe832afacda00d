/**
 * Two sites (eu-k8s holding the root, us-vm whose CA the root signs) provisioned from
 * terraform/modules/site, as the Terraform tests render and run them: the root module's `module`
 * blocks, the `npm pack` artifact they install, processes started from what they render, and the
 * federation check on the status API.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';
import { eventually } from './harness.js';
import { Child } from './servers/child.js';

/** The two sites by their module name in the root module. */
export const SITE_PAIR = { eu: 'eu-k8s', us: 'us-vm' } as const;
export type SiteKey = keyof typeof SITE_PAIR;

/** Options of {@link siteModule}. */
export interface SiteModuleOptions {
  readonly key: SiteKey;
  /** The module's `artifact` (a URL, or the packed tarball's path). */
  readonly artifact: string;
  /** NATS client, cluster and gateway ports, the status port, the tunnel port and, when given, the join port. */
  readonly ports: readonly number[];
  /** The module's `paths`, for a host whose state and config live under a temp dir. */
  readonly paths?: { readonly stateDir: string; readonly configDir: string };
  /** Further inputs, as HCL lines (e.g. `node_install = "preinstalled"`). */
  readonly inputs?: readonly string[];
  /** The gateway's `heartbeat`, when not the module's default. */
  readonly gatewayHeartbeat?: string;
  /** The module outputs the root module's `output "<key>"` carries. */
  readonly outputs: readonly string[];
}

/** A `module "<key>"` block of the site module linked to the other site's NATS gateways, and an output of its results. */
export function siteModule(options: SiteModuleOptions): string {
  const { key } = options;
  const other: SiteKey = key === 'eu' ? 'us' : 'eu';
  const [client, cluster, gateway, status, tunnel, joinPort] = options.ports;
  const control = [`status_port = ${status}`, ...(joinPort === undefined ? [] : [`join_port = ${joinPort}`, 'join_host = "127.0.0.1"'])];
  const gatewayInputs = ['listen_host = "127.0.0.1"', `listen_port = ${tunnel}`, ...(options.gatewayHeartbeat === undefined ? [] : [`heartbeat = "${options.gatewayHeartbeat}"`])];
  const paths = options.paths === undefined ? [] : [`paths           = { state_dir = "${options.paths.stateDir}", config_dir = "${options.paths.configDir}" }`];
  const inputs = [...(options.inputs ?? []), ...paths].map((line) => `  ${line}\n`).join('');
  return `
module "${key}" {
  source          = "../terraform/modules/site"
  trust_domain    = "acme.internal"
  site            = "${SITE_PAIR[key]}"
  region          = "${key}-region"
  zone            = "${key}-zone-a"
  address         = "127.0.0.1"
  ca_role         = "${key === 'eu' ? 'root' : 'site'}"
  artifact        = "${options.artifact}"
${inputs}  nats            = { listen_host = "127.0.0.1", client_port = ${client}, cluster_port = ${cluster}, gateway_port = ${gateway} }
  remote_gateways = { ${SITE_PAIR[other]} = module.${other}.nats_gateway_urls }
  control         = { ${control.join(', ')} }
  gateway         = { ${gatewayInputs.join(', ')} }
}
output "${key}" {
  value = { ${options.outputs.map((name) => `${name} = module.${key}.${name}`).join(', ')} }
}
`;
}

/** Packs the repository with `npm pack` into `dir` (what users install); returns the tarball's path. */
export function packArtifact(dir: string): string {
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
  assert.equal(pack.status, 0, pack.stderr);
  return join(dir, (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string }])[0].filename);
}

/** Starts `binary` and, with `ready`, waits (60 s at most) until its output matches; the child joins `started` (stopped by the caller). */
export async function startUntilReady(started: Child[], command: { binary: string; args: string[]; cwd: string; ready?: RegExp }): Promise<Child> {
  const { args, ready } = command;
  const child = await Child.spawn(command.binary, args, command.cwd);
  started.push(child);
  if (ready !== undefined) {
    await eventually(() => (ready.test(child.output()) ? true : assert.fail(`${args.join(' ')} not ready (exit ${JSON.stringify(child.exitInfo)}):\n${child.output()}`)), { timeoutMs: 60_000, intervalMs: 200 });
  }
  return child;
}

/**
 * Waits until the status API at `port` shows both sites reachable and the gateway links up both
 * ways; `diagnostics` (the processes' output) goes into the failure.
 */
export async function waitForFederation(options: { port: number; token: string; timeoutMs: number; diagnostics: () => string }): Promise<void> {
  const get = async (section: string): Promise<unknown> => {
    const response = await fetch(`http://127.0.0.1:${options.port}/v1/status/${section}`, { headers: { authorization: `Bearer ${options.token}` } });
    assert.equal(response.status, 200, `GET /v1/status/${section}`);
    return response.json();
  };
  await eventually(async () => {
    const sites = (await get('sites')) as { site: string; reachable: boolean }[];
    assert.deepEqual(sites.filter((s) => s.reachable).map((s) => s.site).sort(), [SITE_PAIR.eu, SITE_PAIR.us]);
    const links = (await get('links')) as { fromSite: string; toSite: string; state: string }[];
    const up = links.filter((l) => l.state === 'up').map((l) => `${l.fromSite}>${l.toSite}`).sort();
    assert.deepEqual(up, [`${SITE_PAIR.eu}>${SITE_PAIR.us}`, `${SITE_PAIR.us}>${SITE_PAIR.eu}`], `links: ${JSON.stringify(links)}\n${options.diagnostics()}`);
  }, { timeoutMs: options.timeoutMs, intervalMs: 500 });
}
