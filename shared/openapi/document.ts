import { KindGuard, type TSchema } from '@sinclair/typebox';

/**
 * OpenAPI 3.1 documents built from the TypeBox schemas an API already declares: the schemas that
 * validate requests and serialise responses are the ones the document publishes, so the two
 * cannot drift apart.
 */

/** A TypeBox schema as OpenAPI wants it: `$id`s dropped, `$ref: 'X'` (a schema id) pointing at `#/components/schemas/X`. */
export function toOpenApiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOpenApiSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id') continue;
    out[key] = key === '$ref' && typeof value === 'string' ? `#/components/schemas/${value}` : toOpenApiSchema(value);
  }
  return out;
}

/** A reference to a component schema. */
export function componentRef(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

/** A response without a JSON body (204, a text format, an event stream): its description and, if any, its media types. */
export interface OtherResponse {
  readonly description: string;
  readonly content?: Readonly<Record<string, { readonly schema: TSchema }>>;
}

/**
 * A route's schema as fastify takes it (`params`, `querystring`, `body`, `response` by status; a
 * JSON response is a TypeBox schema whose `description` describes the response), plus OpenAPI's
 * `summary` and `security`, which fastify ignores.
 */
export interface RouteSchema {
  readonly summary?: string;
  readonly description?: string;
  /** `[]`: no authentication. Absent: the document's default. */
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  readonly params?: TSchema;
  readonly querystring?: TSchema;
  readonly body?: TSchema;
  readonly response?: Readonly<Record<number, TSchema | OtherResponse>>;
}

/** One route of an API, as fastify's `onRoute` hook reports it. */
export interface DocumentedRoute {
  readonly method: string;
  /** fastify's form: `/v1/services/:instanceId`. */
  readonly url: string;
  readonly schema: RouteSchema;
}

function parameters(schema: TSchema | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  const properties = (schema?.properties ?? {}) as Record<string, TSchema>;
  const required = new Set<string>((schema?.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: toOpenApiSchema(property),
    ...(property.anyOf !== undefined && where === 'query' ? { style: 'form', explode: true } : {}),
  }));
}

function response(spec: TSchema | OtherResponse): Record<string, unknown> {
  if (!KindGuard.IsSchema(spec)) {
    const content = spec.content === undefined ? undefined : Object.fromEntries(Object.entries(spec.content).map(([type, { schema }]) => [type, { schema: toOpenApiSchema(schema) }]));
    return { description: spec.description, ...(content === undefined ? {} : { content }) };
  }
  return { description: typeof spec.description === 'string' ? spec.description : 'JSON', content: { 'application/json': { schema: toOpenApiSchema(spec) } } };
}

function operation(schema: RouteSchema): Record<string, unknown> {
  const params = [...parameters(schema.params, 'path'), ...parameters(schema.querystring, 'query')];
  return {
    ...(schema.summary === undefined ? {} : { summary: schema.summary }),
    ...(schema.description === undefined ? {} : { description: schema.description }),
    ...(schema.security === undefined ? {} : { security: schema.security }),
    ...(params.length === 0 ? {} : { parameters: params }),
    ...(schema.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: toOpenApiSchema(schema.body) } } } }),
    responses: Object.fromEntries(Object.entries(schema.response ?? {}).map(([status, spec]) => [status, response(spec)])),
  };
}

/** The `paths` object of an OpenAPI 3.1 document for `routes` (HEAD routes fastify adds are left out). */
export function openApiPaths(routes: readonly DocumentedRoute[]): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.method === 'HEAD') continue;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route.schema) };
  }
  return paths;
}
