import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MeridianError } from '../errors/index.js';
import { parseConfig } from './validate.js';
import { DNS_LABEL } from '../text/index.js';

/** A site, node, service or gateway name: a lower-case DNS label. */
export const NameSchema = Type.String({ pattern: `^${DNS_LABEL}$`, description: 'lower-case DNS label' });

/** A duration such as 500ms, 10s, 5m, 24h, 7d (read with parseDuration). */
export const DurationSchema = Type.String({ pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)$', description: 'e.g. 500ms, 10s, 5m' });

/** Where a node runs. */
export const PLATFORMS = ['kubernetes', 'vm', 'bare-metal'] as const;
export const PlatformSchema = Type.Union(PLATFORMS.map((platform) => Type.Literal(platform)));

/** Where a node runs, as agents and gateways declare it: its site, region, zone and platform. */
export const LocalityFields = {
  site: NameSchema,
  region: Type.String({ minLength: 1 }),
  zone: Type.String({ minLength: 1 }),
  platform: PlatformSchema,
};

/** Reads a JSON file unvalidated (to merge with flags before validating); errors name the file. */
export function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: not readable JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Reads a JSON config file and validates it; errors name the file and every bad field. */
export function loadJsonConfig<T extends TSchema>(schema: T, path: string): Readonly<Static<T>> {
  return parseConfig(schema, readJsonFile(path), path);
}
