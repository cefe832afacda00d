export { jsonLogger, type Logger } from './log.js';
