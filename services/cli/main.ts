import { runCli } from '../../shared/cli/index.js';
import { agentCommands } from '../../agent/index.js';
import { gatewayCommands } from '../../gateway/cli.js';
import { caCommands } from '../../shared/identity/index.js';
import { siteCommands } from '../site/index.js';
import { statusCommands } from '../status/index.js';

/** The `meridian` entry point: each domain contributes its commands. */
const commands = [...caCommands, ...siteCommands, ...agentCommands, ...gatewayCommands, ...statusCommands];

const code = await runCli(commands, process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
