export { componentRef, openApiPaths, toOpenApiSchema, type DocumentedRoute, type OtherResponse, type RouteSchema } from './document.js';
