import { componentRef, toOpenApiSchema } from '../../shared/openapi/index.js';
import { COMPONENT_SCHEMAS, FederationStatusSchema } from './schema.js';

/** The sections of the status document that `GET /v1/status/{section}` serves alone. */
export const STATUS_SECTIONS = ['problems', 'sites', 'links', 'catalog', 'policy', 'certificates', 'failovers', 'traffic'] as const;
export type StatusSection = (typeof STATUS_SECTIONS)[number];

const errorResponses = {
  '401': { description: 'no valid token or client certificate', content: { 'application/json': { schema: componentRef('Error') } } },
};

/** The OpenAPI 3.1 document of the status API, served at `/openapi.json`. */
export function openApiDocument(version: string): Record<string, unknown> {
  const schemas = Object.fromEntries(COMPONENT_SCHEMAS.map((s) => [String(s.$id), toOpenApiSchema(s)]));
  const sectionSchema = (section: StatusSection): unknown => toOpenApiSchema(FederationStatusSchema.properties[section]);
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
          responses: { '200': { description: 'the federation status', content: { 'application/json': { schema: componentRef('FederationStatus') } } }, ...errorResponses },
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
