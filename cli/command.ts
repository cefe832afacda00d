import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MeridianError } from '../shared/errors/index.js';

/** Where a command writes: stdout for results, stderr for diagnostics (tests capture both). */
export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}

/** One `meridian <group> <name>` command. Each domain exports its own; the entry point composes them. */
export interface Command {
  readonly group: string;
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  run(args: ParsedArgs, io: CommandIo): Promise<number> | number;
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Parses argv strictly: unknown flags are errors that name the flag and the usage. */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: command.options, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${(cause as Error).message}\nusage: ${command.usage}`, { cause });
  }
}

/** A string flag that must be present. */
export function requireString(args: ParsedArgs, flag: string, command: Command): string {
  const value = args.values[flag];
  if (typeof value !== 'string' || value === '') {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--${flag} is required\nusage: ${command.usage}`);
  }
  return value;
}

export function optionalString(args: ParsedArgs, flag: string): string | undefined {
  const value = args.values[flag];
  return typeof value === 'string' ? value : undefined;
}
