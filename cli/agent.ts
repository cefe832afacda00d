import { optionalString, requireString, type Command } from './index.js';
import { renderTable } from '../shared/text/index.js';
import { waitForShutdown } from '../shared/process/index.js';
import { MeridianError } from '../shared/errors/index.js';
import { jsonLogger } from '../shared/telemetry/index.js';
import { loadAgentConfig } from '../agent/config.js';
import { startAgent } from '../agent/runtime.js';

const DEFAULT_AGENT = 'http://127.0.0.1:8510';

const run: Command = {
  group: 'agent',
  name: 'run',
  summary: "run this node's agent (registration, health checks, catalog view, local API)",
  usage: 'meridian agent run --config <agent.json>',
  options: { config: { type: 'string' } },
  async run(args, io) {
    const config = loadAgentConfig(requireString(args, 'config', run));
    const agent = await startAgent(config, jsonLogger('agent'));
    io.out(`agent ${config.node} of site ${config.site}: API ${agent.api.url}`);
    // SIGHUP reloads definitions (the definitions watcher listens too); it must never kill the agent.
    const onHangup = (): void => undefined;
    process.on('SIGHUP', onHangup);
    await waitForShutdown();
    await agent.stop();
    process.off('SIGHUP', onHangup);
    io.out('agent stopped: instances deregistered');
    return 0;
  },
};

/** A catalog row as `GET /v1/instances` returns it. */
export interface InstanceRow {
  service: string;
  instanceId: string;
  site: string;
  region: string;
  platform: string;
  address: string;
  ports: Record<string, number>;
  health: string;
  stale: boolean;
  ageMs: number;
  usable: boolean;
  version: string;
}

const FILTERS = ['service', 'site', 'region', 'health'] as const;

const services: Command = {
  group: 'services',
  name: '',
  summary: 'print the federated catalog as the local agent sees it',
  usage: 'meridian services [--agent <url>] [--service s] [--site s] [--region r] [--health passing|critical|unknown] [--label k=v]... [--json]',
  options: {
    agent: { type: 'string', default: DEFAULT_AGENT },
    json: { type: 'boolean', default: false },
    label: { type: 'string', multiple: true },
    ...Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' as const }])),
  },
  async run(args, io) {
    const query = new URLSearchParams();
    for (const filter of FILTERS) {
      const value = optionalString(args, filter);
      if (value !== undefined) query.set(filter, value);
    }
    for (const label of (args.values.label as unknown as string[] | undefined) ?? []) query.append('label', label);
    const agent = optionalString(args, 'agent') ?? DEFAULT_AGENT;
    const body = await fetchJson(`${agent}/v1/instances?${query.toString()}`);
    if (args.values.json === true) io.out(JSON.stringify(body, null, 2));
    else io.out(renderInstances(body.instances));
    return 0;
  },
};

async function fetchJson(url: string): Promise<{ instances: InstanceRow[] }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot reach the agent at ${url}: ${(cause as Error).message}`, { cause });
  }
  const body = (await response.json()) as { instances: InstanceRow[]; code?: string; message?: string };
  if (!response.ok) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `agent answered ${response.status}: ${body.message ?? ''}`);
  return body;
}

/** The `meridian services` table of catalog rows (as the agent API returns them). */
export function renderInstances(rows: InstanceRow[]): string {
  const header = ['SERVICE', 'INSTANCE', 'SITE', 'REGION', 'PLATFORM', 'ADDRESS', 'HEALTH', 'STATE', 'VERSION'];
  const cells = rows
    .sort((a, b) => a.service.localeCompare(b.service) || a.site.localeCompare(b.site) || a.instanceId.localeCompare(b.instanceId))
    .map((r) => [r.service, r.instanceId, r.site, r.region, r.platform, `${r.address}:${Object.values(r.ports).join(',')}`, r.health, state(r), r.version]);
  return `${renderTable(header, cells)}\n${rows.length} instance(s), ${rows.filter((r) => r.usable).length} usable`;
}

function state(row: InstanceRow): string {
  if (!row.stale) return row.usable ? 'fresh' : 'fresh, unusable';
  return `stale ${Math.round(row.ageMs / 1000)}s${row.usable ? '' : ', unusable'}`;
}

/** `meridian agent run` and `meridian services`. */
export const agentCommands: readonly Command[] = [run, services];
