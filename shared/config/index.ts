export { parseConfig } from './validate.js';
export type { ConfigViolation } from './validate.js';
export { parseDuration } from './duration.js';
export { DurationSchema, LocalityFields, NameSchema, PLATFORMS, PlatformSchema, loadJsonConfig, readJsonFile } from './schemas.js';
export * from './defaults.js';
export { MERIDIAN_VERSION } from './version.js';
