export { waitForShutdown } from './shutdown.js';
export { runUntilShutdown, type LongRunning } from './shutdown.js';
export { startOrUndo, type UndoSteps } from './start.js';
export { loadOrSetAside } from './set-aside.js';
export { Listeners } from './listeners.js';
