import { runCli } from './index.js';
import { agentCommands } from './agent.js';
import { agentInstallCommands } from './agent-install.js';
import { caCommands } from './ca.js';
import { consulCommands } from './consul.js';
import { dashboardCommands } from './dashboard.js';
import { gatewayCommands } from './gateway.js';
import { policyCommands } from './policy.js';
import { siteCommands } from './site.js';
import { statusCommands } from './status.js';
import { tokenCommands } from './token.js';
import { revokeCommands } from './revoke.js';

/** The `meridian` entry point: one file per command group, each parsing into its role's config. */
const commands = [...caCommands, ...siteCommands, ...agentCommands, ...agentInstallCommands, ...gatewayCommands, ...policyCommands, ...revokeCommands, ...statusCommands, ...tokenCommands, ...dashboardCommands, ...consulCommands];

const code = await runCli(commands, process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
