import { optionalString, requireString, type Command } from './index.js';
import { renderTable } from '../shared/text/index.js';
import { runUntilShutdown } from '../shared/process/index.js';
import { readTokenFile } from '../shared/identity/index.js';
import { jsonLogger } from '../shared/telemetry/index.js';
import { DEFAULT_AGENT_API_TOKEN_FILE, DEFAULT_AGENT_API_URL, loadAgentConfig } from '../agent/config.js';
import { fetchInstances, type InstanceRow } from '../agent/api/index.js';
import { startAgent } from '../agent/runtime.js';
import { joinSite } from '../agent/join/index.js';

const run: Command = {
  group: 'agent',
  name: 'run',
  summary: "run this node's agent (registration, health checks, catalog view, local API)",
  usage: 'meridian agent run --config <agent.json>',
  options: { config: { type: 'string' } },
  async run(args, io) {
    const config = loadAgentConfig(requireString(args, 'config', run));
    await runUntilShutdown({
      start: () => startAgent(config, jsonLogger('agent')),
      // SIGHUP reloads definitions (the definitions watcher listens for it too).
      onHangup: () => undefined,
      started: (agent) => io.out(`agent ${config.node} of site ${config.site}: API ${agent.api.url} (bearer token in ${agent.apiTokenFile})`),
    });
    io.out('agent stopped: instances deregistered');
    return 0;
  },
};

/** Where an installed agent's config lives (the unit's --config): the default of `agent join`. */
const INSTALLED_AGENT_CONFIG = '/etc/meridian/agent.json';

const join: Command = {
  group: 'agent',
  name: 'join',
  summary: "join this node to its site with a token: makes the agent key here, writes its certificate, trust bundle and NATS password (0600)",
  usage: `meridian agent join --token <token> --control <host:port> [--config ${INSTALLED_AGENT_CONFIG}]`,
  options: { token: { type: 'string' }, control: { type: 'string' }, config: { type: 'string', default: INSTALLED_AGENT_CONFIG } },
  async run(args, io) {
    const config = loadAgentConfig(optionalString(args, 'config') ?? INSTALLED_AGENT_CONFIG);
    const result = await joinSite({ token: requireString(args, 'token', join), control: requireString(args, 'control', join), config });
    io.out(`joined site ${config.site} as ${result.identity} (certificate valid until ${result.notAfter})`);
    io.out(`wrote (0600): ${result.files.join(', ')}`);
    return 0;
  },
};

const FILTERS = ['service', 'site', 'region', 'health'] as const;

const services: Command = {
  group: 'services',
  name: '',
  summary: 'print the federated catalog as the local agent sees it',
  usage:
    'meridian services [--agent <url>] [--token-file <file>] [--service s] [--site s] [--region r] [--health passing|critical|unknown] [--label k=v]... [--json]\n' +
    `       (defaults: --agent ${DEFAULT_AGENT_API_URL} --token-file ${DEFAULT_AGENT_API_TOKEN_FILE}, the agent's api.tokenFile)`,
  options: {
    agent: { type: 'string', default: DEFAULT_AGENT_API_URL },
    'token-file': { type: 'string', default: DEFAULT_AGENT_API_TOKEN_FILE },
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
    const token = readTokenFile(optionalString(args, 'token-file') ?? DEFAULT_AGENT_API_TOKEN_FILE, 'agent API token');
    const body = await fetchInstances({ url: optionalString(args, 'agent') ?? DEFAULT_AGENT_API_URL, token }, query);
    if (args.values.json === true) io.out(JSON.stringify(body, null, 2));
    else io.out(renderInstances(body.instances));
    return 0;
  },
};

/** The `meridian services` table of catalog rows (as the agent API returns them). */
export function renderInstances(rows: readonly InstanceRow[]): string {
  const header = ['SERVICE', 'INSTANCE', 'SITE', 'REGION', 'PLATFORM', 'ADDRESS', 'HEALTH', 'STATE', 'VERSION'];
  const cells = [...rows]
    .sort((a, b) => a.service.localeCompare(b.service) || a.site.localeCompare(b.site) || a.instanceId.localeCompare(b.instanceId))
    .map((r) => [r.service, r.instanceId, r.site, r.region, r.platform, `${r.address}:${Object.values(r.ports).join(',')}`, r.health, state(r), r.version]);
  return `${renderTable(header, cells)}\n${rows.length} instance(s), ${rows.filter((r) => r.usable).length} usable`;
}

function state(row: InstanceRow): string {
  if (!row.stale) return row.usable ? 'fresh' : 'fresh, unusable';
  return `stale ${Math.round(row.ageMs / 1000)}s${row.usable ? '' : ', unusable'}`;
}

/** `meridian agent run`, `meridian agent join` and `meridian services`. */
export const agentCommands: readonly Command[] = [run, join, services];
