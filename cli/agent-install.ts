import { resolve } from 'node:path';
import { optionalString, type Command } from './index.js';
import { INSTALLED_AGENT, installAgent, uninstallAgent } from '../agent/install/index.js';

const rootOf = (value: string | undefined): string | undefined => (value === undefined ? undefined : resolve(value));

const install: Command = {
  group: 'agent',
  name: 'install',
  summary: 'install the agent as a hardened systemd service (unit, system user, /etc/meridian, /var/lib/meridian)',
  usage:
    `meridian agent install [--config <agent.json>] [--bin <path>] [--root <dir>] [--no-user] [--force]\n` +
    `       (--config: installed as ${INSTALLED_AGENT.configFile}, required the first time; --bin: the unit's ExecStart, default the installed unit's, else ${INSTALLED_AGENT.bin}, else the meridian on PATH;\n` +
    '        --root: write under <dir> and leave this host\'s users and systemd alone; --force: overwrite a changed agent.json)',
  options: {
    config: { type: 'string' },
    bin: { type: 'string' },
    root: { type: 'string' },
    'no-user': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
  },
  run(args, io) {
    const configFile = optionalString(args, 'config');
    const root = rootOf(optionalString(args, 'root'));
    const bin = optionalString(args, 'bin');
    const report = installAgent({
      ...(bin === undefined ? {} : { bin }),
      createUser: args.values['no-user'] !== true,
      force: args.values.force === true,
      ...(configFile === undefined ? {} : { configFile }),
      ...(root === undefined ? {} : { root }),
    });
    for (const line of report) io.out(line);
    io.out(`next: meridian agent join --token <token> --control <host:port>, then systemctl enable --now ${INSTALLED_AGENT.unitName}`);
    return 0;
  },
};

const uninstall: Command = {
  group: 'agent',
  name: 'uninstall',
  summary: 'remove the agent service (unit, sysusers entry); --purge also removes its config and state',
  usage: 'meridian agent uninstall [--root <dir>] [--purge]',
  options: { root: { type: 'string' }, purge: { type: 'boolean', default: false } },
  run(args, io) {
    const root = rootOf(optionalString(args, 'root'));
    const report = uninstallAgent({ purge: args.values.purge === true, ...(root === undefined ? {} : { root }) });
    for (const line of report) io.out(line);
    return 0;
  },
};

/** `meridian agent install` and `meridian agent uninstall`. */
export const agentInstallCommands: readonly Command[] = [install, uninstall];
