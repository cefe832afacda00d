import { optionalString, requireString, type Command, type ParsedArgs } from './index.js';
import { MeridianError } from '../shared/errors/index.js';
import { parseDuration } from '../shared/config/index.js';
import { runUntilShutdown } from '../shared/process/index.js';
import { readTokenFile } from '../shared/identity/index.js';
import { jsonLogger } from '../shared/telemetry/index.js';
import { DEFAULT_AGENT_API_TOKEN_FILE, DEFAULT_AGENT_API_URL } from '../agent/config.js';
import { startConsulSync, type ConsulSyncOptions } from './consul-sync/index.js';

const PROTOCOLS = ['http', 'http2', 'grpc', 'tcp'] as const;
/** Consul's own ceiling for a blocking query's wait. */
const MAX_WAIT_MS = 10 * 60_000;

function bad(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${message}\nusage: ${sync.usage}`);
}

function url(flag: string, value: string, example: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || (parsed.pathname !== '/' && parsed.pathname !== '')) {
    throw bad(`--${flag} ${value}: expected http(s)://host:port, e.g. ${example}`);
  }
  return `${parsed.protocol}//${parsed.host}`;
}

function count(args: ParsedArgs, flag: string, fallback: number): number {
  const value = optionalString(args, flag) ?? String(fallback);
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) throw bad(`--${flag} ${value}: expected a whole number from 1 to 1000000`);
  return Number(value);
}

function duration(args: ParsedArgs, flag: string, fallback: string, bounds: { minMs: number; maxMs: number }): string {
  const value = optionalString(args, flag) ?? fallback;
  let ms: number;
  try {
    ms = parseDuration(value, `--${flag}`);
  } catch (error) {
    throw bad((error as Error).message);
  }
  if (ms < bounds.minMs || ms > bounds.maxMs) throw bad(`--${flag} ${value}: must be from ${bounds.minMs / 1000}s to ${bounds.maxMs / 60_000}m`);
  return value;
}

/** The sync's options from the flags: every value checked before anything is contacted. */
export function syncOptions(args: ParsedArgs): Omit<ConsulSyncOptions, 'log'> {
  const consulUrl = url('consul', requireString(args, 'consul', sync), 'http://127.0.0.1:8500');
  const site = requireString(args, 'site', sync);
  const protocol = optionalString(args, 'protocol') ?? 'http';
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) throw bad(`--protocol ${protocol}: expected one of ${PROTOCOLS.join(', ')}`);
  const agentUrl = url('agent', optionalString(args, 'agent') ?? DEFAULT_AGENT_API_URL, DEFAULT_AGENT_API_URL);
  const datacenter = optionalString(args, 'datacenter');
  const checked = {
    site,
    ...(datacenter === undefined ? {} : { datacenter }),
    toConsul: args.values['to-consul'] === true,
    export: args.values.export === true,
    protocol: protocol as ConsulSyncOptions['protocol'],
    wait: duration(args, 'wait', '5m', { minMs: 1000, maxMs: MAX_WAIT_MS }),
    ttl: duration(args, 'ttl', '30s', { minMs: 3000, maxMs: 60 * 60_000 }),
    maxServices: count(args, 'max-services', 1000),
    maxInstances: count(args, 'max-instances', 10_000),
  };
  // The token files are read last: a usage error is reported as such wherever the command runs.
  const consulTokenFile = optionalString(args, 'consul-token-file');
  return {
    ...checked,
    consul: { url: consulUrl, ...(consulTokenFile === undefined ? {} : { token: readTokenFile(consulTokenFile, 'Consul ACL token') }) },
    agent: { url: agentUrl, token: readTokenFile(optionalString(args, 'token-file') ?? DEFAULT_AGENT_API_TOKEN_FILE, 'agent API token') },
  };
}

const sync: Command = {
  group: 'consul',
  name: 'sync',
  summary: 'mirror a Consul datacenter into a Meridian site (and with --to-consul, the site into Consul) until SIGTERM',
  usage:
    'meridian consul sync --consul <url> --site <S> [--agent <url>] [--token-file <file>] [--consul-token-file <file>] [--datacenter <dc>] [--to-consul] [--export]\n' +
    '       [--protocol http|http2|grpc|tcp] [--wait 5m] [--ttl 30s] [--max-services 1000] [--max-instances 10000]\n' +
    `       (defaults: --agent ${DEFAULT_AGENT_API_URL} --token-file ${DEFAULT_AGENT_API_TOKEN_FILE}, the local agent's API token)`,
  options: {
    consul: { type: 'string' },
    site: { type: 'string' },
    agent: { type: 'string' },
    'token-file': { type: 'string' },
    'consul-token-file': { type: 'string' },
    datacenter: { type: 'string' },
    'to-consul': { type: 'boolean', default: false },
    export: { type: 'boolean', default: false },
    protocol: { type: 'string' },
    wait: { type: 'string' },
    ttl: { type: 'string' },
    'max-services': { type: 'string' },
    'max-instances': { type: 'string' },
  },
  async run(args, io) {
    const options = syncOptions(args);
    await runUntilShutdown({
      start: () => startConsulSync({ ...options, log: jsonLogger('consul-sync') }),
      onHangup: () => undefined,
      started: (running) =>
        io.out(`consul sync: Consul ${options.consul.url} datacenter ${running.datacenter} -> Meridian site ${options.site}${options.toConsul ? ' (and back: --to-consul)' : ''}`),
    });
    io.out('consul sync stopped: mirrors removed');
    return 0;
  },
};

/** `meridian consul sync`. */
export const consulCommands: readonly Command[] = [sync];
