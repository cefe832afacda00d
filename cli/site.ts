import { join, resolve } from 'node:path';
import { optionalString, type Command, type CommandIo, type ParsedArgs } from './index.js';
import { runUntilShutdown } from '../shared/process/index.js';
import { MeridianError } from '../shared/errors/index.js';
import { PkiDirectory, loadOrCreateTokenFile, writeText } from '../shared/identity/index.js';
import { renderTls } from '../services/site/nats-conf.js';
import { signerSubject } from '../shared/catalog/index.js';
import { jsonLogger } from '../shared/telemetry/index.js';
import { startControlService, type ControlStatusOptions } from '../services/site/control.js';
import type { JoinServiceConfig } from '../services/site/join/index.js';
import { prepareSiteNats } from '../services/site/nats-bootstrap.js';
import { DEFAULT_PKI_DIR, parseDuration, readJsonFile } from '../shared/config/index.js';
import type { NatsServerFiles } from '../services/site/nats-server-cert.js';
import { parseSiteConfig, type SiteConfig } from '../services/site/config.js';

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
  const file = loadOrCreateTokenFile(path, 'status API token');
  if (file.created) io.out(`status API token written to ${path} (0600)`);
  return file.token;
}

/** The status side of the control service, from the config; its token file is created on first start. */
function statusOptions(config: SiteConfig, io: CommandIo): ControlStatusOptions | undefined {
  if (config.status === undefined) return undefined;
  const { host, port, tokenFile, tls } = config.status;
  return { api: { host, port, tokens: [statusToken(tokenFile, io)], tls } };
}

/** Flags into the site config's shape; the schema then validates both sources the same way. */
function configFromFlags(args: ParsedArgs): SiteConfig {
  const file = optionalString(args, 'config');
  const raw = file === undefined ? {} : readJsonFile(file);
  const base: Record<string, unknown> = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw } : { invalid: raw };
  const flag = (name: string): string | undefined => optionalString(args, name);
  const port = flag('status-port');
  const status = port === undefined
    ? base['status']
    : {
        ...(base['status'] as object | undefined),
        port: /^\d+$/.test(port) ? Number(port) : port,
        ...(flag('status-host') === undefined ? {} : { host: flag('status-host') }),
        ...(flag('status-token-file') === undefined ? {} : { tokenFile: flag('status-token-file') }),
        ...(args.values['status-tls'] === true ? { tls: true } : {}),
      };
  const joinPort = flag('join-port');
  const join = joinPort === undefined
    ? base['join']
    : { ...(base['join'] as object | undefined), port: /^\d+$/.test(joinPort) ? Number(joinPort) : joinPort, ...(flag('join-host') === undefined ? {} : { host: flag('join-host') }) };
  const merged = {
    ...base,
    ...(args.positionals[0] === undefined ? {} : { site: args.positionals[0] }),
    ...(flag('nats') === undefined ? {} : { nats: { url: flag('nats') } }),
    ...(flag('dir') === undefined ? {} : { pkiDir: flag('dir') }),
    ...(flag('region') === undefined ? {} : { region: flag('region') }),
    ...(flag('platform') === undefined ? {} : { platform: flag('platform') }),
    ...(status === undefined ? {} : { status }),
    ...(join === undefined ? {} : { join }),
  };
  return parseSiteConfig(merged, file === undefined ? 'site serve flags' : `${file} with the site serve flags`);
}

/** The config's `natsServer` in the control service's terms (its duration read). */
function natsServerFiles(config: NonNullable<SiteConfig['natsServer']>): NatsServerFiles {
  const { certificateTtl, ...files } = config;
  return { ...files, ...(certificateTtl === undefined ? {} : { ttlMs: parseDuration(certificateTtl, '/natsServer/certificateTtl') }) };
}

/** The join endpoint's options from the config (durations to milliseconds). */
function joinOptions(join: NonNullable<SiteConfig['join']>): JoinServiceConfig {
  return { host: join.host, port: join.port, ...(join.agentTtl === undefined ? {} : { agentTtlMs: parseDuration(join.agentTtl, '/join/agentTtl') }) };
}

const serve: Command = {
  group: 'site',
  name: 'serve',
  summary: "run a site's control service: workload certificate signer, lease reaper, federation status API",
  usage:
    'meridian site serve <site> --nats <url> [--dir <pki dir>] [--region <r> --platform <kubernetes|vm|bare-metal>] [--status-port <port> [--status-host 127.0.0.1] [--status-token-file meridian-data/status-token] [--status-tls]] [--join-port <port> [--join-host 127.0.0.1]]\n       meridian site serve --config site.json   (the same fields as JSON; flags override the file)',
  options: {
    config: { type: 'string' },
    dir: { type: 'string' },
    nats: { type: 'string' },
    region: { type: 'string' },
    platform: { type: 'string' },
    'status-port': { type: 'string' },
    'status-host': { type: 'string' },
    'status-token-file': { type: 'string' },
    'status-tls': { type: 'boolean', default: false },
    'join-port': { type: 'string' },
    'join-host': { type: 'string' },
  },
  async run(args, io) {
    const config = configFromFlags(args);
    const pki = new PkiDirectory(config.pkiDir);
    pki.loadSiteCertificate(config.site);
    const status = statusOptions(config, io);
    const log = jsonLogger(`control:${config.site}`);
    // The site's signer keeps running on SIGHUP: it is told and ignored.
    await runUntilShutdown({
      start: () =>
        startControlService({
          pki,
          site: config.site,
          natsUrl: config.nats.url,
          log,
          ...(config.region === undefined ? {} : { region: config.region }),
          ...(config.platform === undefined ? {} : { platform: config.platform }),
          ...(status === undefined ? {} : { status }),
          ...(config.natsServer === undefined ? {} : { natsServer: natsServerFiles(config.natsServer) }),
          ...(config.join === undefined ? {} : { join: joinOptions(config.join) }),
          ...certificateLifetimes(config),
        }),
      onHangup: () => log.info('SIGHUP received: nothing to reload; restart the control service to apply configuration changes'),
      started: (control) => {
        io.out(`control service of site ${config.site}: signing workload certificates on ${signerSubject(config.site)}`);
        if (control.join.url !== undefined) io.out(`join endpoint: ${control.join.url}/v1/join (nodes join with 'meridian agent join --token <token> --control <host:port>')`);
        if (control.status.api !== undefined) io.out(`status API: ${control.status.api.url}/v1/status (dashboard: ${control.status.api.url}/dashboard#token=<token>)`);
      },
    });
    log.info('control service stopped', { site: config.site });
    return 0;
  },
};

/** `meridian site ...`: bootstrapping and running a site's control plane from its CA. */
export const siteCommands: readonly Command[] = [bootstrap, serve];

/** The config's certificate lifetimes as control-service options (absent: the 24 h defaults). */
function certificateLifetimes(config: SiteConfig): { workloadTtlMs?: number; roleTtlMs?: number } {
  const lifetimes = config.certificates;
  return {
    ...(lifetimes?.workloadTtl === undefined ? {} : { workloadTtlMs: parseDuration(lifetimes.workloadTtl, '/certificates/workloadTtl') }),
    ...(lifetimes?.roleTtl === undefined ? {} : { roleTtlMs: parseDuration(lifetimes.roleTtl, '/certificates/roleTtl') }),
  };
}
