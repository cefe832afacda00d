import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MeridianError } from '../errors/index.js';

/** One schema violation, with a JSON-pointer path to the offending field. */
export interface ConfigViolation {
  path: string;
  message: string;
}

/**
 * Applies schema defaults, validates, and returns a deeply frozen copy. Every violation is
 * reported at once with its path, so an operator fixes a file in one pass; `source` names the
 * file or flag the value came from.
 */
export function parseConfig<T extends TSchema>(schema: T, input: unknown, source: string): Readonly<Static<T>> {
  const value: unknown = Value.Default(schema, structuredClone(input ?? {}));
  const violations = [...Value.Errors(schema, value)].map((e) => ({
    path: e.path === '' ? '/' : e.path,
    message: e.message,
  }));
  if (violations.length > 0) {
    const list = violations.map((v) => `${v.path}: ${v.message}`).join('; ');
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${source}: invalid configuration: ${list}`, {
      details: { source, violations },
    });
  }
  return deepFreeze(value as Static<T>);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
