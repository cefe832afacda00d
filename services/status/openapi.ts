import { COMPONENT_SCHEMAS, FederationStatusSchema } from './schema.js';

/** The sections of the status document that `GET /v1/status/{section}` serves alone. */
export const STATUS_SECTIONS = ['problems', 'sites', 'links', 'catalog', 'policy', 'certificates', 'failovers', 'traffic'] as const;
export type StatusSection = (typeof STATUS_SECTIONS)[number];

/** TypeBox `$ref: 'X'` (schema ids) becomes an OpenAPI component reference. */
function toOpenApi(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOpenApi);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id') continue;
    out[key] = key === '$ref' && typeof value === 'string' ? `#/components/schemas/${value}` : toOpenApi(value);
  }
  return out;
}

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const errorResponses = {
  '401': { description: 'no valid token or client certificate', content: { 'application/json': { schema: ref('Error') } } },
};

/** The OpenAPI 3.1 document of the status API, served at `/openapi.json`. */
export function openApiDocument(version: string): Record<string, unknown> {
  const schemas = Object.fromEntries(COMPONENT_SCHEMAS.map((s) => [String(s.$id), toOpenApi(s)]));
  const sectionSchema = (section: StatusSection): unknown => toOpenApi(FederationStatusSchema.properties[section]);
  return {
    openapi: '3.1.0',
    info: { title: 'Meridian federation status API', version, description: 'Served by every site control service; any site answers for the whole federation.' },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, mtls: { type: 'mutualTLS' } },
    },
    security: [{ bearer: [] }, { mtls: [] }],
    paths: {
      '/v1/status': {
        get: {
          summary: 'The whole federation: sites, gateway links, catalog, policy, certificates, failovers, traffic, problems',
          responses: { '200': { description: 'the federation status', content: { 'application/json': { schema: ref('FederationStatus') } } }, ...errorResponses },
        },
      },
      ...Object.fromEntries(
        STATUS_SECTIONS.map((section) => [
          `/v1/status/${section}`,
          { get: { summary: `The ${section} section of /v1/status`, responses: { '200': { description: section, content: { 'application/json': { schema: sectionSchema(section) } } }, ...errorResponses } } },
        ]),
      ),
      '/metrics': { get: { summary: 'Prometheus metrics of this control service', responses: { '200': { description: 'text exposition format' }, ...errorResponses } } },
      '/dashboard': { get: { summary: 'The live dashboard (pass the token in the fragment: /dashboard#token=...)', security: [], responses: { '200': { description: 'HTML' } } } },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
