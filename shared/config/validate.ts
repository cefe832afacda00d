import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ConfigViolation } from './types.js';
import { violationsOf } from './violations.js';
import { MeridianError } from '../errors/index.js';

export type { ConfigViolation };

/**
 * Applies schema defaults, validates, and returns a deeply frozen copy. Every violation is
 * reported at once with its path, so an operator fixes a file in one pass; `source` names the
 * file or flag the value came from.
 */
export function parseConfig<T extends TSchema>(schema: T, input: unknown, source: string): Readonly<Static<T>> {
  const value: unknown = Value.Default(schema, structuredClone(input ?? {}));
  const violations = violationsOf(schema, value);
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
