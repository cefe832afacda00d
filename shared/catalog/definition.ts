import { Type, type Static } from '@sinclair/typebox';
import { DurationSchema, NameSchema } from '../config/index.js';

const Name = NameSchema;
const Duration = DurationSchema;
const PortRef = Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1, maximum: 65535 })], {
  description: 'a named port of the service or a port number',
});

/**
 * Bounds on what one definition may hold: every instance is replicated to every site and every
 * upstream opens a listener, so a single registration must not be able to flood either (Consul
 * bounds service metadata to 64 pairs too).
 */
export const MAX_LABELS = 64;
export const MAX_PORTS = 32;
export const MAX_UPSTREAMS = 256;

const CheckTiming = {
  interval: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  healthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  unhealthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};

/** Health check of a service definition. Defaults: interval 10s, timeout 2s, thresholds 1 healthy / 3 unhealthy. */
export const HealthCheckSchema = Type.Union([
  Type.Object({ type: Type.Literal('http'), port: PortRef, path: Type.String({ pattern: '^/', default: '/' }), ...CheckTiming }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('tcp'), port: PortRef, ...CheckTiming }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('grpc'), port: PortRef, service: Type.String({ default: '' }), ...CheckTiming }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('ttl'), ttl: Duration }, { additionalProperties: false }),
]);
export type HealthCheck = Static<typeof HealthCheckSchema>;

/**
 * Outbound listeners of a calling service, on 127.0.0.1: an HTTP listener (HTTP/1.1 and h2c,
 * gRPC included) routing by Host / :authority `<service>.mesh`, and one TCP port per upstream
 * for any other protocol. Calls leave with the calling service's own workload identity.
 */
export const OutboundSchema = Type.Object(
  {
    http: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    upstreams: Type.Array(
      Type.Object({ service: Name, port: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: false }),
      { default: [], maxItems: MAX_UPSTREAMS },
    ),
  },
  { additionalProperties: false },
);
export type Outbound = Static<typeof OutboundSchema>;

/**
 * A service definition: a YAML/JSON file in the agent's definitions directory, or the body of
 * `POST /v1/services` on the agent API. The agent stamps site, region, zone, platform and node.
 */
export const ServiceDefinitionSchema = Type.Object(
  {
    service: Name,
    instanceId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' })),
    address: Type.String({ default: '127.0.0.1', minLength: 1 }),
    ports: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,14}$' }), Type.Integer({ minimum: 1, maximum: 65535 }), { minProperties: 1, maxProperties: MAX_PORTS }),
    protocol: Type.Union([Type.Literal('http'), Type.Literal('http2'), Type.Literal('grpc'), Type.Literal('tcp')], { default: 'http' }),
    version: Type.String({ default: '0.0.0', maxLength: 64 }),
    labels: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$' }), Type.String({ maxLength: 256 }), { default: {}, maxProperties: MAX_LABELS }),
    weight: Type.Integer({ minimum: 0, maximum: 10000, default: 100 }),
    check: Type.Optional(HealthCheckSchema),
    /** Whether other sites may call this service through the east-west gateways. */
    export: Type.Boolean({ default: false }),
    /** How this service calls others through the mesh, with its own identity. */
    outbound: Type.Optional(OutboundSchema),
    partition: Type.Object(
      {
        mode: Type.Union([Type.Literal('keep-last-known'), Type.Literal('fail-closed')], { default: 'keep-last-known' }),
        maxStaleness: Type.Optional(Duration),
      },
      { default: { mode: 'keep-last-known' }, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ServiceDefinition = Static<typeof ServiceDefinitionSchema>;

/** Default max staleness for keep-last-known services. */
export const DEFAULT_MAX_STALENESS = '10m';
