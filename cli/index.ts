export { optionalString, parseCommandArgs, requireString } from './command.js';
export type { Command, CommandIo, ParsedArgs } from './command.js';
export { runCli } from './run.js';
