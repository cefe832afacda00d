import { isMeridianError } from '../shared/errors/index.js';
import { parseCommandArgs, type Command, type CommandIo } from './command.js';

/** Exit status of every command for a usage error (a missing or unknown flag, a bad value). */
export const EXIT_USAGE = 2;

/** Dispatches `argv` (without node and script) to a command and returns the exit code. */
export async function runCli(commands: readonly Command[], argv: readonly string[], io: CommandIo): Promise<number> {
  const [group, name, ...rest] = argv;
  if (group === undefined || group === 'help' || group === '--help' || group === '-h') {
    io.out(help(commands));
    return group === undefined ? EXIT_USAGE : 0;
  }
  const command = commands.find((c) => c.group === group && (c.name === name || (c.name === '' && name === undefined)))
    ?? commands.find((c) => c.group === group && c.name === '');
  if (command === undefined) {
    io.err(`meridian: unknown command '${[group, name].filter(Boolean).join(' ')}'\n\n${help(commands)}`);
    return EXIT_USAGE;
  }
  const args = command.name === '' ? argv.slice(1) : rest;
  try {
    if (args.includes('--help')) {
      io.out(`${command.summary}\nusage: ${command.usage}`);
      return 0;
    }
    return await command.run(parseCommandArgs(command, args), io);
  } catch (error) {
    if (isMeridianError(error)) {
      io.err(`meridian: ${error.code}: ${error.message}`);
      return error.code === 'MERIDIAN_ERR_BAD_ARGUMENT' ? EXIT_USAGE : 1;
    }
    throw error;
  }
}

function help(commands: readonly Command[]): string {
  const rows = commands.map((c) => `  meridian ${[c.group, c.name].filter(Boolean).join(' ').padEnd(16)} ${c.summary}`);
  return ['usage: meridian <command> [options]', '', 'commands:', ...rows, '', "Run 'meridian <command> --help' for its options."].join('\n');
}
