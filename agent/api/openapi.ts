import { openApiPaths, type DocumentedRoute } from '../../shared/openapi/index.js';

/**
 * The OpenAPI 3.1 document of the agent API (`GET /openapi.json`), built from the schemas its
 * routes declare. Every route needs the bearer token but `/v1/ready` and this document.
 */
export function agentApiDocument(routes: readonly DocumentedRoute[], version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Meridian agent API',
      version,
      description:
        "Each node's agent, on localhost: register this node's services, and read the federated catalog as this agent's view holds it. Errors are { code, message } with a stable MERIDIAN_ERR_* code.",
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: "the token in the agent config's api.tokenFile (default <dataDir>/api-token, created 0600 on first start)" },
      },
    },
    security: [{ bearer: [] }],
    paths: openApiPaths(routes),
  };
}
