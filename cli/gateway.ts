import { requireString, type Command } from './index.js';
import { waitForShutdown } from '../shared/process/index.js';
import { jsonLogger } from '../shared/telemetry/index.js';
import { loadGatewayConfig, startGatewayProcess } from '../gateway/index.js';

const run: Command = {
  group: 'gateway',
  name: 'run',
  summary: "run a site's east-west gateway (mTLS HTTP/2 CONNECT tunnels to the other sites)",
  usage: 'meridian gateway run --config <gateway.json>',
  options: { config: { type: 'string' } },
  async run(args, io) {
    const config = loadGatewayConfig(requireString(args, 'config', run));
    const running = await startGatewayProcess(config, jsonLogger('gateway'));
    io.out(`gateway ${config.name} of site ${config.site}: tunnels on ${running.gateway.address.address}:${running.gateway.address.port}`);
    await waitForShutdown();
    await running.stop();
    io.out('gateway stopped: drained');
    return 0;
  },
};

/** `meridian gateway run`. */
export const gatewayCommands: readonly Command[] = [run];
