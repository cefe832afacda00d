export { optionalString, parseCommandArgs, requireString } from './command.js';
export type { Command, CommandIo, ParsedArgs } from './command.js';
export { runCli } from './run.js';
export { renderTable } from './table.js';
export { waitForShutdown } from './shutdown.js';
