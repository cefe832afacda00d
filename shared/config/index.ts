export { parseConfig } from './validate.js';
export type { ConfigViolation } from './validate.js';
