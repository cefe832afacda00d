import { requireString, type Command } from './index.js';
import { runUntilShutdown } from '../shared/process/index.js';
import { loadMtlsIdentity } from '../shared/identity/index.js';
import { jsonLogger, type Logger } from '../shared/telemetry/index.js';
import { loadGatewayConfig, startGatewayProcess, type GatewayConfig, type RunningGateway } from '../gateway/index.js';

/**
 * SIGHUP re-reads the gateway's certificate and key (a renewed certificate is picked up without
 * a restart: new tunnels use it, open ones keep theirs). It never stops the gateway; a bad file
 * leaves the current certificate in place.
 */
function reloadIdentity(config: GatewayConfig, running: RunningGateway | undefined, log: Logger): void {
  if (running === undefined) {
    log.info('SIGHUP received while starting: nothing to reload yet');
    return;
  }
  try {
    const identity = loadMtlsIdentity({ keyFile: config.keyFile, certFile: config.certFile, bundleFile: config.nats.bundleFile, trustDomain: config.nats.trustDomain });
    running.gateway.setIdentity(identity);
    log.info('SIGHUP received: tunnel certificate and key reloaded', { certFile: config.certFile, notAfter: identity.chain[0]?.validTo });
  } catch (error) {
    log.warn('SIGHUP received: certificate not reloaded, the gateway keeps its current one', { certFile: config.certFile, error: (error as Error).message });
  }
}

const run: Command = {
  group: 'gateway',
  name: 'run',
  summary: "run a site's east-west gateway (mTLS HTTP/2 CONNECT tunnels to the other sites)",
  usage: 'meridian gateway run --config <gateway.json>   (SIGHUP reloads its certificate and key; SIGTERM drains and stops)',
  options: { config: { type: 'string' } },
  async run(args, io) {
    const config = loadGatewayConfig(requireString(args, 'config', run));
    const log = jsonLogger('gateway');
    await runUntilShutdown({
      start: () => startGatewayProcess(config, log),
      onHangup: (running) => reloadIdentity(config, running, log),
      started: (running) => io.out(`gateway ${config.name} of site ${config.site}: tunnels on ${running.gateway.address.address}:${running.gateway.address.port}`),
    });
    io.out('gateway stopped: drained');
    return 0;
  },
};

/** `meridian gateway run`. */
export const gatewayCommands: readonly Command[] = [run];
