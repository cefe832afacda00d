import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { PlatformSchema, parseConfig, parseDuration } from '../config/index.js';
import { DEFAULT_MAX_STALENESS, ServiceDefinitionSchema, type ServiceDefinition } from './definition.js';
import type { NodeContext, ServiceInstance } from './types.js';

/** Validates and defaults a service definition; errors name `source` and every bad field. */
export function parseServiceDefinition(input: unknown, source: string): ServiceDefinition {
  return parseConfig(ServiceDefinitionSchema, input, source);
}

/** The instance id of a definition on a node: its own, or `<node>-<service>-<first port>`. */
export function instanceIdOf(definition: ServiceDefinition, node: string): string {
  return definition.instanceId ?? `${node}-${definition.service}-${Object.values(definition.ports)[0] ?? 0}`;
}

/** Stamps a definition with where it runs: the instance record the catalog stores. */
export function toInstance(definition: ServiceDefinition, node: NodeContext, options: { leaseTtlMs: number; now?: Date; registeredAt?: string }): ServiceInstance {
  const now = (options.now ?? new Date()).toISOString();
  return {
    service: definition.service,
    instanceId: instanceIdOf(definition, node.node),
    site: node.site,
    region: node.region,
    zone: node.zone,
    platform: node.platform,
    node: node.node,
    address: definition.address,
    ports: { ...definition.ports },
    exported: definition.export,
    protocol: definition.protocol,
    version: definition.version,
    labels: { ...definition.labels },
    weight: definition.weight,
    health: definition.check === undefined ? 'passing' : 'unknown',
    partition: {
      mode: definition.partition.mode,
      maxStalenessMs: parseDuration(definition.partition.maxStaleness ?? DEFAULT_MAX_STALENESS, 'partition.maxStaleness'),
    },
    leaseTtlMs: options.leaseTtlMs,
    registeredAt: options.registeredAt ?? now,
    updatedAt: now,
  };
}

/** A stored instance record (`ServiceInstance`): what catalog readers accept, and what the agent API serves. */
export const ServiceInstanceSchema = Type.Object({
  service: Type.String(),
  instanceId: Type.String(),
  site: Type.String(),
  region: Type.String(),
  zone: Type.String(),
  platform: PlatformSchema,
  node: Type.String(),
  address: Type.String(),
  ports: Type.Record(Type.String(), Type.Integer()),
  meshPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  exported: Type.Optional(Type.Boolean()),
  protocol: Type.Union([Type.Literal('http'), Type.Literal('http2'), Type.Literal('grpc'), Type.Literal('tcp')]),
  version: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  weight: Type.Integer(),
  health: Type.Union([Type.Literal('passing'), Type.Literal('critical'), Type.Literal('unknown')]),
  partition: Type.Object({ mode: Type.Union([Type.Literal('keep-last-known'), Type.Literal('fail-closed')]), maxStalenessMs: Type.Number() }),
  leaseTtlMs: Type.Number(),
  registeredAt: Type.String(),
  updatedAt: Type.String(),
});
const checkInstance = TypeCompiler.Compile(ServiceInstanceSchema);

/** True for a well-formed instance record (a snapshot line, a KV value). */
export function isServiceInstance(value: unknown): value is ServiceInstance {
  return checkInstance.Check(value);
}

/** Reads a stored instance; anything malformed is refused rather than served to callers. */
export function decodeInstance(bytes: Uint8Array): ServiceInstance | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return checkInstance.Check(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Identifies an instance federation-wide (`<site>/<instanceId>`): ids are unique within their site's catalog only. */
export function instanceKey(instance: Pick<ServiceInstance, 'site' | 'instanceId'>): string {
  return `${instance.site}/${instance.instanceId}`;
}
