import { readFileSync } from 'node:fs';
import { optionalString, type Command, type ParsedArgs } from './index.js';
import { MeridianError } from '../shared/errors/index.js';
import { fetchFederationStatus, type StatusClientOptions } from '../services/status/client.js';
import { renderFederationStatus } from '../services/status/render.js';

/** Exit status of `meridian status` when the federation answered and is unhealthy. */
export const EXIT_UNHEALTHY = 1;

function token(args: ParsedArgs): string | undefined {
  const file = optionalString(args, 'token-file');
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (cause) {
      throw new MeridianError('MERIDIAN_ERR_FILE_IO', `cannot read the status token file ${file}: ${(cause as Error).message}`, { cause });
    }
  }
  return process.env.MERIDIAN_STATUS_TOKEN;
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

/** `meridian status`: the whole federation from any site's control service; exits 1 when it is unhealthy. */
export const status: Command = {
  group: 'status',
  name: '',
  summary: "the federation's status from any site's control service (exit 1 when unhealthy)",
  usage: 'meridian status --url <status API url> [--token-file <file>] [--ca-file <bundle> --trust-domain <td> [--cert-file <cert> --key-file <key>]] [--json]',
  options: {
    url: { type: 'string' },
    'token-file': { type: 'string' },
    'ca-file': { type: 'string' },
    'trust-domain': { type: 'string' },
    'cert-file': { type: 'string' },
    'key-file': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  async run(args, io) {
    const result = await fetchFederationStatus(clientOptions(args));
    io.out(args.values.json === true ? JSON.stringify(result, null, 2) : renderFederationStatus(result));
    if (result.healthy) return 0;
    const errors = result.problems.filter((p) => p.severity === 'error').map((p) => p.message);
    io.err(`meridian: federation unhealthy: ${errors.join('; ')}`);
    return EXIT_UNHEALTHY;
  },
};

export const statusCommands: readonly Command[] = [status];
