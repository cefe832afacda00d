export { waitForShutdown } from './shutdown.js';
