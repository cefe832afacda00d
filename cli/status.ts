import { optionalString, type Command, type CommandIo, type ParsedArgs } from './index.js';
import { isMeridianError, MeridianError } from '../shared/errors/index.js';
import { fetchFederationStatus, type StatusClientOptions } from '../services/status/client.js';
import { renderFederationStatus } from '../services/status/render.js';
import { STATUS_SECTIONS } from '../services/status/openapi.js';
import { POLICY_LAG_BOUND_MS, policyLagMessage } from '../services/status/policy.js';
import { parseDuration } from '../shared/config/index.js';
import { readTokenFile } from '../shared/identity/index.js';
import type { FederationStatus } from '../services/status/schema.js';

/**
 * Exit statuses of `meridian status`, as scripts and probes read them. Like `linkerd check`, the
 * answer "unhealthy" is told apart from "could not ask": an unreachable API, a refused token or a
 * missing file says nothing about the federation. 2 (usage) is the CLI's own (cli/run.ts).
 */
export const EXIT_HEALTHY = 0;
export const EXIT_UNHEALTHY = 1;
export const EXIT_COULD_NOT_ASK = 3;

function token(args: ParsedArgs): string | undefined {
  const file = optionalString(args, 'token-file');
  if (file !== undefined) return readTokenFile(file, 'status token');
  const fromEnv = process.env.MERIDIAN_STATUS_TOKEN;
  return fromEnv === '' ? undefined : fromEnv;
}

function clientOptions(args: ParsedArgs): StatusClientOptions {
  const url = optionalString(args, 'url') ?? process.env.MERIDIAN_STATUS_URL;
  if (url === undefined || url === '') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--url (or MERIDIAN_STATUS_URL) is required\nusage: ${status.usage}`);
  const secret = token(args);
  const files = { caFile: optionalString(args, 'ca-file'), trustDomain: optionalString(args, 'trust-domain'), certFile: optionalString(args, 'cert-file'), keyFile: optionalString(args, 'key-file') };
  return {
    url,
    ...(secret === undefined ? {} : { token: secret }),
    ...Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)),
  };
}

/** The answer is used only if it is a status document: a stray server's JSON must not read as "healthy" or crash the summary. */
function checkedDocument(answer: FederationStatus, url: string): FederationStatus {
  const candidate = answer as Partial<FederationStatus> | null;
  const shaped = typeof candidate === 'object' && candidate !== null && typeof candidate.healthy === 'boolean'
    && STATUS_SECTIONS.every((section) => Array.isArray(candidate[section]));
  if (!shaped) throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `${new URL('/v1/status', url).href} answered something that is not a federation status`);
  return answer;
}

/** Asks the status API; any failure except a usage error means "could not ask". */
async function ask(args: ParsedArgs): Promise<FederationStatus> {
  const options = clientOptions(args);
  try {
    return checkedDocument(await fetchFederationStatus(options), options.url);
  } catch (error) {
    if (isMeridianError(error)) throw error;
    throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `cannot read the status API at ${options.url}: ${(error as Error).message}`, { cause: error });
  }
}

/** --policy-lag: how long a site may lag the newest policy version (default 30s). */
function policyLag(args: ParsedArgs): number {
  const text = optionalString(args, 'policy-lag');
  return text === undefined ? POLICY_LAG_BOUND_MS : parseDuration(text, '--policy-lag');
}

/**
 * Why the federation fails, with the policy lag judged by --policy-lag instead of the server's
 * bound: an operator who allows 5 min for a slow site, or wants 5 s, gets that.
 */
function failures(result: FederationStatus, lagBoundMs: number): string[] {
  const errors = result.problems.filter((p) => p.severity === 'error' && p.component !== 'policy-lag').map((p) => p.message);
  const lagging = result.policy.filter((p) => p.lagging && p.laggingForMs !== null && p.laggingForMs > lagBoundMs);
  return [...errors, ...lagging.map((p) => policyLagMessage(p, undefined, Date.parse(result.generatedAt)))];
}

function report(result: FederationStatus, options: { json: boolean; lagBoundMs: number }, io: CommandIo): number {
  io.out(options.json ? JSON.stringify(result, null, 2) : renderFederationStatus(result));
  const failed = failures(result, options.lagBoundMs);
  if (failed.length === 0) return EXIT_HEALTHY;
  io.err(`meridian: federation unhealthy: ${failed.join('; ')}`);
  return EXIT_UNHEALTHY;
}

/** `meridian status`: the whole federation from any site's control service; exit 0 healthy, 1 unhealthy, 2 usage, 3 could not ask. */
export const status: Command = {
  group: 'status',
  name: '',
  summary: "the federation's status from any site's control service (exit 0 healthy, 1 unhealthy or a site lagging the newest policy past --policy-lag, 2 usage, 3 could not ask)",
  usage: 'meridian status --url <status API url> [--token-file <file>] [--ca-file <bundle> --trust-domain <td> [--cert-file <cert> --key-file <key>]] [--policy-lag <duration, default 30s>] [--json]',
  options: {
    url: { type: 'string' },
    'token-file': { type: 'string' },
    'ca-file': { type: 'string' },
    'trust-domain': { type: 'string' },
    'cert-file': { type: 'string' },
    'key-file': { type: 'string' },
    'policy-lag': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  async run(args, io) {
    const lagBoundMs = policyLag(args);
    let result: FederationStatus;
    try {
      result = await ask(args);
    } catch (error) {
      // Usage errors go to the CLI's own handler (exit 2); everything else is "could not ask".
      if (!isMeridianError(error) || error.code === 'MERIDIAN_ERR_BAD_ARGUMENT') throw error;
      io.err(`meridian: ${error.code}: ${error.message}`);
      return EXIT_COULD_NOT_ASK;
    }
    return report(result, { json: args.values.json === true, lagBoundMs }, io);
  },
};

export const statusCommands: readonly Command[] = [status];
