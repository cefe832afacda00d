import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler';
import type { FastifySchemaCompiler } from 'fastify';
import { parseConfig } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';

/** How request bodies are named in errors: `agent API: invalid configuration: /ports/http: ...`. */
export const BODY_SOURCE = 'agent API';

type Validation = { value: unknown } | { error: Error };

function badArgument(error: ValueError): MeridianError {
  const field = error.path.replace(/^\//, '').replaceAll('/', '.') || 'query';
  const custom: unknown = error.schema.errorMessage;
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${field}: ${typeof custom === 'string' ? custom : error.message}`);
}

/**
 * Validates requests with the routes' TypeBox schemas. A body is a service definition and is
 * read like a definitions file (defaults applied, every violation reported with its path, as
 * MERIDIAN_ERR_CONFIG_INVALID); a query string or path parameter reports its first violation as
 * MERIDIAN_ERR_BAD_ARGUMENT naming the parameter.
 */
export const typeBoxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  if (httpPart === 'body') {
    return (data: unknown): Validation => {
      try {
        return { value: parseConfig(schema, data, BODY_SOURCE) };
      } catch (error) {
        return { error: error as MeridianError };
      }
    };
  }
  const check = TypeCompiler.Compile(schema);
  return (data: unknown): Validation => {
    const first = check.Errors(data).First();
    return first === undefined ? { value: data } : { error: badArgument(first) };
  };
};
