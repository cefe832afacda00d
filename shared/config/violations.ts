import { Kind, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import type { ConfigViolation } from './types.js';

type Variant = TSchema & { properties?: Record<string, TSchema & { const?: unknown }> };

/**
 * Every violation of `value` against `schema`, each with its JSON-pointer path (under `prefix`).
 * TypeBox reports a value that matches no variant of a union as a bare "Expected union value";
 * those are explained instead (see {@link unionViolations}).
 */
export function violationsOf(schema: TSchema, value: unknown, prefix = ''): ConfigViolation[] {
  return [...Value.Errors(schema, value)].flatMap((e): ConfigViolation[] =>
    e.type === ValueErrorType.Union ? unionViolations(e.schema, e.value, `${prefix}${e.path}`) : [{ path: `${prefix}${e.path}` || '/', message: e.message }],
  );
}

/** The property whose literal value tells a union's object variants apart (e.g. a check's `type`), if any. */
function discriminator(variants: readonly Variant[]): string | undefined {
  const first = variants[0]?.properties;
  if (first === undefined) return undefined;
  return Object.keys(first).find((key) => variants.every((v) => v.properties?.[key]?.const !== undefined));
}

/**
 * For tagged object variants: either the tag is wrong (the valid tags are listed) or the variant
 * it names is violated (that variant's own violations, with defaults applied as they would be).
 * Otherwise the union's description says what was expected.
 */
function unionViolations(schema: TSchema, value: unknown, path: string): ConfigViolation[] {
  const variants = (schema as { anyOf?: Variant[] }).anyOf ?? [];
  const tag = discriminator(variants);
  if (tag !== undefined && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const given = (value as Record<string, unknown>)[tag];
    const chosen = variants.find((v) => v.properties?.[tag]?.const === given);
    if (chosen === undefined) {
      const tags = variants.map((v) => JSON.stringify(v.properties?.[tag]?.const)).join(', ');
      return [{ path: `${path}/${tag}`, message: `must be one of ${tags} (got ${JSON.stringify(given) ?? 'nothing'})` }];
    }
    return violationsOf(chosen, Value.Default(chosen, structuredClone(value)), path);
  }
  const description = typeof schema.description === 'string' ? schema.description : variants.map((v) => String(v[Kind])).join(' or ');
  return [{ path: path || '/', message: `expected ${description}` }];
}
