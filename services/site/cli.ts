import { join, resolve } from 'node:path';
import { waitForShutdown, type Command } from '../../shared/cli/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { PkiDirectory, writeText } from '../../shared/identity/index.js';
import { renderTls } from '../../shared/servers/index.js';
import { signerSubject } from '../../shared/catalog/index.js';
import { jsonLogger } from '../../shared/telemetry/index.js';
import { startControlService } from './control.js';
import { prepareSiteNats } from './nats-bootstrap.js';

const bootstrap: Command = {
  group: 'site',
  name: 'nats-config',
  summary: "write a site's nats-server TLS and authorization config, and its agents' NATS password",
  usage: 'meridian site nats-config <site> --out <dir> [--dir <pki dir>]',
  options: { dir: { type: 'string', default: 'meridian-data/pki' }, out: { type: 'string' } },
  run(args, io) {
    const site = args.positionals[0];
    const out = args.values.out;
    if (site === undefined || typeof out !== 'string') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a site and --out are required\nusage: ${bootstrap.usage}`);
    const pki = new PkiDirectory(typeof args.values.dir === 'string' ? args.values.dir : 'meridian-data/pki');
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

const serve: Command = {
  group: 'site',
  name: 'serve',
  summary: "run a site's control service: workload certificate signer and lease reaper",
  usage: 'meridian site serve <site> --nats <url> [--dir <pki dir>]',
  options: { dir: { type: 'string', default: 'meridian-data/pki' }, nats: { type: 'string' } },
  async run(args, io) {
    const site = args.positionals[0];
    const url = args.values.nats;
    if (site === undefined || typeof url !== 'string') throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a site and --nats are required\nusage: ${serve.usage}`);
    const pki = new PkiDirectory(typeof args.values.dir === 'string' ? args.values.dir : 'meridian-data/pki');
    pki.loadSiteCertificate(site);
    const control = await startControlService({ pki, site, natsUrl: url, log: jsonLogger(`control:${site}`) });
    io.out(`control service of site ${site}: signing workload certificates on ${signerSubject(site)}`);
    await waitForShutdown();
    await control.stop();
    return 0;
  },
};

/** `meridian site ...`: bootstrapping and running a site's control plane from its CA. */
export const siteCommands: readonly Command[] = [bootstrap, serve];
