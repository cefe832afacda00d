import { Type, type Static } from '@sinclair/typebox';
import { ServiceDefinitionSchema, ServiceInstanceSchema } from '../../shared/catalog/index.js';
import { PlatformSchema } from '../../shared/config/index.js';

/**
 * The agent API's contract: fastify validates requests and serialises responses with these
 * schemas, `/openapi.json` publishes them, and the CLI reads answers with their types.
 * `errorMessage` (the ajv-errors keyword) is what a violation of that field reports.
 */

const HEALTH = ['passing', 'critical', 'unknown'] as const;

const catalogFilters = {
  service: Type.Optional(Type.String({ description: 'only this service' })),
  site: Type.Optional(Type.String({ description: 'only instances of this site' })),
  region: Type.Optional(Type.String({ description: 'only instances in this region' })),
  health: Type.Optional(Type.Union(HEALTH.map((h) => Type.Literal(h)), { description: 'only instances in this health state', errorMessage: `must be one of ${HEALTH.join(', ')}` })),
  label: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'key=value; repeat it for several labels, which must all match' })),
};

/** Filters of every catalog read. */
export const CatalogQuerySchema = Type.Object(catalogFilters);
export type CatalogQueryString = Static<typeof CatalogQuerySchema>;

/** `GET /v1/instances`: the filters, and a blocking query's `index` and `wait`. */
export const InstancesQuerySchema = Type.Object({
  ...catalogFilters,
  index: Type.Optional(
    Type.String({ pattern: '^[0-9]+$', description: 'answer once the catalog revision passes this one (X-Meridian-Index of an earlier answer)', errorMessage: 'must be a non-negative integer' }),
  ),
  wait: Type.Optional(Type.String({ description: 'how long a blocking query waits at most: a duration such as 30s (default 30s, at most 60s)' })),
});
export type InstancesQueryString = Static<typeof InstancesQuerySchema>;

export const InstanceIdParamsSchema = Type.Object({ instanceId: Type.String({ minLength: 1, maxLength: 128, description: 'an instance registered on this node' }) });

/** `PUT /v1/checks/:instanceId/fail?note=`: the check's output, as Consul's `note`. */
export const CheckNoteQuerySchema = Type.Object({ note: Type.Optional(Type.String({ maxLength: 256, description: "the check's output (default: failed through the agent API)" })) }, { additionalProperties: false });

/** A catalog row: the stored instance, and how this agent's view sees it now. */
export const InstanceRowSchema = Type.Object({
  ...ServiceInstanceSchema.properties,
  stale: Type.Boolean({ description: "the instance's site has been silent for longer than the staleness threshold" }),
  ageMs: Type.Number({ description: 'since this view last heard from the instance\'s site (-1: never)' }),
  usable: Type.Boolean({ description: 'passing, and within its partition policy: what callers route to' }),
});
export type InstanceRow = Static<typeof InstanceRowSchema>;

export const InstancesSchema = Type.Object(
  { index: Type.Integer({ description: 'the catalog revision this answer reflects' }), instances: Type.Array(InstanceRowSchema) },
  { description: 'the matching instances of the whole federation' },
);
export type Instances = Static<typeof InstancesSchema>;

export const ServiceSummarySchema = Type.Object({
  service: Type.String(),
  instances: Type.Integer(),
  passing: Type.Integer(),
  usable: Type.Integer(),
  stale: Type.Integer(),
  sites: Type.Array(Type.String()),
});

export const ServicesSchema = Type.Object({ index: Type.Integer(), services: Type.Array(ServiceSummarySchema) }, { description: 'the matching services, one row each' });

export const SiteViewSchema = Type.Object({
  site: Type.String(),
  instances: Type.Integer(),
  ageMs: Type.Optional(Type.Number({ description: 'since anything arrived from the site; absent if nothing ever did' })),
  stale: Type.Boolean(),
  syncLagMs: Type.Optional(Type.Number({ description: "transit time of the site's latest lease renewal" })),
});

export const SitesSchema = Type.Object({ index: Type.Integer(), sites: Type.Array(SiteViewSchema) }, { description: 'every site this view follows' });

export const AgentInfoSchema = Type.Object(
  {
    site: Type.String(),
    region: Type.String(),
    zone: Type.String(),
    platform: PlatformSchema,
    node: Type.String(),
    connected: Type.Boolean({ description: "the agent reaches its site's NATS" }),
    ready: Type.Boolean({ description: "every site's initial replay is done" }),
    catalogRevision: Type.Integer(),
    sites: Type.Array(SiteViewSchema),
  },
  { description: 'this agent and its view' },
);

export const ReadySchema = Type.Object({ ready: Type.Boolean() }, { description: 'whether the catalog view is warm' });

export const LocalRegistrationSchema = Type.Object({
  instance: ServiceInstanceSchema,
  source: Type.Union([Type.Object({ kind: Type.Literal('file'), path: Type.String() }), Type.Object({ kind: Type.Literal('api') })]),
  definition: ServiceDefinitionSchema,
});

export const LocalSchema = Type.Object({ registrations: Type.Array(LocalRegistrationSchema) }, { description: "this node's registrations, with their source and definition as registered" });

export const RegisteredSchema = Type.Object(ServiceInstanceSchema.properties, { description: 'the registered instance, as the catalog stores it' });

export const ErrorSchema = Type.Object(
  { code: Type.String({ description: 'a stable MERIDIAN_ERR_* code' }), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) },
  { description: 'an error' },
);
export type ErrorBody = Static<typeof ErrorSchema>;

/** The request body of `POST /v1/services`: a service definition, as in a definitions file. */
export const RegistrationBodySchema = ServiceDefinitionSchema;
