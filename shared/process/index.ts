export { waitForShutdown } from './shutdown.js';
export { runUntilShutdown, type LongRunning } from './shutdown.js';
