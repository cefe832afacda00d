import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { optionalString, type Command, type CommandIo, type ParsedArgs } from './index.js';
import { waitForShutdown } from '../shared/process/index.js';
import { MeridianError } from '../shared/errors/index.js';
import { PkiDirectory, readText, writeText } from '../shared/identity/index.js';
import { renderTls } from '../services/site/nats-conf.js';
import { signerSubject } from '../shared/catalog/index.js';
import { jsonLogger } from '../shared/telemetry/index.js';
import { startControlService, type ControlStatusOptions } from '../services/site/control.js';
import { prepareSiteNats } from '../services/site/nats-bootstrap.js';
import { DEFAULT_PKI_DIR, PLATFORMS } from '../shared/config/index.js';

const bootstrap: Command = {
  group: 'site',
  name: 'nats-config',
  summary: "write a site's nats-server TLS and authorization config, and its agents' NATS password",
  usage: 'meridian site nats-config <site> --out <dir> [--dir <pki dir>]',
  options: { dir: { type: 'string', default: DEFAULT_PKI_DIR }, out: { type: 'string' } },
  run(args, io) {
    const site = args.positionals[0];
    const out = args.values.out;
    if (site === undefined || typeof out !== 'string') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a site and --out are required\nusage: ${bootstrap.usage}`);
    const pki = new PkiDirectory(typeof args.values.dir === 'string' ? args.values.dir : DEFAULT_PKI_DIR);
    pki.loadSiteCertificate(site);
    const setup = prepareSiteNats(pki, site);
    // Absolute paths: nats-server resolves relative ones against its own config file's directory.
    const tls = renderTls({ ...setup.tls, certFile: resolve(setup.tls.certFile), keyFile: resolve(setup.tls.keyFile), caFile: resolve(setup.tls.caFile ?? pki.bundlePath) });
    writeText(join(out, 'nats-site.conf'), `# Include from the site's nats-server.conf: client TLS with trust-domain certificates, and the site user.\n${tls}\n${setup.authorization}\n`, 0o600);
    writeText(join(out, 'nats-password'), `${setup.password}\n`, 0o600);
    io.out(`site ${site}: ${join(out, 'nats-site.conf')} (include it in nats-server.conf), agents' password ${join(out, 'nats-password')} (0600)`);
    return 0;
  },
};

/** The status API's token: read from the file, or created there (0600) on first start. */
function statusToken(path: string, io: CommandIo): string {
  if (existsSync(path)) {
    const token = readText(path, 'status API token').trim();
    if (token === '') throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `status API token file ${path} is empty`);
    return token;
  }
  const token = randomBytes(24).toString('base64url');
  writeText(path, `${token}\n`, 0o600);
  io.out(`status API token written to ${path} (0600)`);
  return token;
}

function statusOptions(args: ParsedArgs, io: CommandIo): ControlStatusOptions | undefined {
  const port = optionalString(args, 'status-port');
  if (port === undefined) return undefined;
  if (!/^\d+$/.test(port) || Number(port) > 65535) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--status-port must be a port number (got ${JSON.stringify(port)})`);
  const host = optionalString(args, 'status-host');
  const tokenFile = optionalString(args, 'status-token-file') ?? 'meridian-data/status-token';
  return { api: { port: Number(port), tokens: [statusToken(tokenFile, io)], tls: args.values['status-tls'] === true, ...(host === undefined ? {} : { host }) } };
}

const serve: Command = {
  group: 'site',
  name: 'serve',
  summary: "run a site's control service: workload certificate signer, lease reaper, federation status API",
  usage:
    'meridian site serve <site> --nats <url> [--dir <pki dir>] [--region <r> --platform <kubernetes|vm|bare-metal>] [--status-port <port> [--status-host 127.0.0.1] [--status-token-file meridian-data/status-token] [--status-tls]]',
  options: {
    dir: { type: 'string', default: DEFAULT_PKI_DIR },
    nats: { type: 'string' },
    region: { type: 'string' },
    platform: { type: 'string' },
    'status-port': { type: 'string' },
    'status-host': { type: 'string' },
    'status-token-file': { type: 'string' },
    'status-tls': { type: 'boolean', default: false },
  },
  async run(args, io) {
    const site = args.positionals[0];
    const url = args.values.nats;
    if (site === undefined || typeof url !== 'string') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a site and --nats are required\nusage: ${serve.usage}`);
    const pki = new PkiDirectory(typeof args.values.dir === 'string' ? args.values.dir : DEFAULT_PKI_DIR);
    pki.loadSiteCertificate(site);
    const status = statusOptions(args, io);
    const region = optionalString(args, 'region');
    const platform = optionalString(args, 'platform');
    if (platform !== undefined && !(PLATFORMS as readonly string[]).includes(platform)) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--platform must be kubernetes, vm or bare-metal (got ${JSON.stringify(platform)})`);
    }
    const control = await startControlService({
      pki,
      site,
      natsUrl: url,
      log: jsonLogger(`control:${site}`),
      ...(region === undefined ? {} : { region }),
      ...(platform === undefined ? {} : { platform }),
      ...(status === undefined ? {} : { status }),
    });
    io.out(`control service of site ${site}: signing workload certificates on ${signerSubject(site)}`);
    if (control.status.api !== undefined) io.out(`status API: ${control.status.api.url}/v1/status (dashboard: ${control.status.api.url}/dashboard#token=<token>)`);
    await waitForShutdown();
    await control.stop();
    return 0;
  },
};

/** `meridian site ...`: bootstrapping and running a site's control plane from its CA. */
export const siteCommands: readonly Command[] = [bootstrap, serve];
