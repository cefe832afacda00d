import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MAX_LABELS, type ServiceDefinition } from '../../shared/catalog/index.js';
import { DNS_LABEL } from '../../shared/text/dns-label.js';
import type { InstanceRow } from '../../agent/api/index.js';

/**
 * The mark of what the sync wrote, on both sides: a Meridian label and a Consul service meta key
 * (the key consul-k8s's catalog sync uses too). Each direction skips what carries the other
 * direction's mark, so a service mirrored one way never comes back the other way.
 */
export const SOURCE_KEY = 'external-source';
/** The mark's value on a Meridian instance mirrored from Consul. */
export const FROM_CONSUL = 'consul';
/** The mark's value on a Consul service mirrored from Meridian. */
export const FROM_MERIDIAN = 'meridian';

/** Health as both sides agree on it: Consul's warning counts as passing (Meridian has no warning). */
export type MirrorHealth = 'passing' | 'critical';

/** One instance as the other side should hold it: what to write, and its health with the reason. */
export interface Mirror<T> {
  readonly id: string;
  readonly body: T;
  readonly health: MirrorHealth;
  /** Why it is critical (the failing check's output), for the check's note. */
  readonly note: string;
}

/** One entry of Consul's `/v1/health/service/:name`, the fields the sync reads. */
export const ConsulHealthEntrySchema = Type.Object({
  Node: Type.Object({ Node: Type.String({ minLength: 1 }), Address: Type.String() }),
  Service: Type.Object({
    ID: Type.String({ minLength: 1 }),
    Service: Type.String({ minLength: 1 }),
    Tags: Type.Union([Type.Array(Type.String()), Type.Null()]),
    Address: Type.String(),
    Port: Type.Integer(),
    Meta: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]),
  }),
  Checks: Type.Array(Type.Object({ Status: Type.String(), Name: Type.Optional(Type.String()), Output: Type.Optional(Type.String()) })),
});
export type ConsulHealthEntry = Static<typeof ConsulHealthEntrySchema>;
const checkEntry = TypeCompiler.Compile(ConsulHealthEntrySchema);

/** How Consul instances become Meridian definitions. */
export interface ToMeridianOptions {
  readonly datacenter: string;
  /** When Meta.protocol does not say (Consul keeps protocols in config entries the sync does not read). */
  readonly protocol: ServiceDefinition['protocol'];
  readonly export: boolean;
  /** The mirror's ttl check: the sync passes it every third of it, so a dead sync's mirrors turn critical. */
  readonly ttl: string;
}

const SERVICE_NAME = new RegExp(`^${DNS_LABEL}$`);
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const PROTOCOLS = new Set(['http', 'http2', 'grpc', 'tcp']);
const RESERVED_LABELS = ['consul-dc', 'consul-node', 'consul-id', 'consul-tags', SOURCE_KEY];

/** An id both sides accept (`[A-Za-z0-9][A-Za-z0-9_.-]`, ≤ 128), unique: a hash suffix when characters had to go. */
export function safeId(prefix: string, parts: readonly string[]): string {
  const raw = `${prefix}-${parts.join('-')}`;
  const cleaned = raw.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (cleaned === raw && raw.length <= 128) return raw;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 12);
  return `${cleaned.slice(0, 115)}-${hash}`;
}

/** Consul's checks of one instance as one health: any critical check (maintenance included) makes it critical. */
export function consulHealth(checks: ConsulHealthEntry['Checks']): { health: MirrorHealth; note: string } {
  const failing = checks.find((c) => c.Status === 'critical' || c.Status === 'maintenance');
  if (failing === undefined) return { health: 'passing', note: '' };
  return { health: 'critical', note: `critical in Consul: ${failing.Name ?? 'a check'}: ${failing.Output ?? ''}`.slice(0, 256).trimEnd() };
}

function labelsOf(entry: ConsulHealthEntry, datacenter: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const room = MAX_LABELS - RESERVED_LABELS.length;
  for (const [key, value] of Object.entries(entry.Service.Meta ?? {})) {
    if (Object.keys(labels).length >= room) break;
    if (LABEL_KEY.test(key) && !RESERVED_LABELS.includes(key) && value.length <= 256) labels[key] = value;
  }
  labels['consul-dc'] = datacenter.slice(0, 256);
  labels['consul-node'] = entry.Node.Node.slice(0, 256);
  labels['consul-id'] = entry.Service.ID.slice(0, 256);
  labels['consul-tags'] = (entry.Service.Tags ?? []).join(',').slice(0, 256);
  labels[SOURCE_KEY] = FROM_CONSUL;
  return labels;
}

/**
 * A Consul instance as a Meridian definition, or why it is not mirrored: an entry the sync itself
 * wrote (the loop mark), a name that is not a DNS label, no port, or a malformed entry.
 */
export function toMeridian(value: unknown, options: ToMeridianOptions): Mirror<ServiceDefinition> | { skip: string } {
  if (!checkEntry.Check(value)) return { skip: `a malformed health entry: ${checkEntry.Errors(value).First()?.path ?? '/'}` };
  const { Service: service, Node: node } = value;
  if (service.Meta?.[SOURCE_KEY] === FROM_MERIDIAN) return { skip: 'mirrored from Meridian by a sync' };
  if (!SERVICE_NAME.test(service.Service)) return { skip: `service name ${JSON.stringify(service.Service)} is not a lower-case DNS label` };
  if (service.Port < 1 || service.Port > 65535) return { skip: `instance ${service.ID} has no port (${service.Port})` };
  const address = service.Address !== '' ? service.Address : node.Address;
  if (address === '') return { skip: `instance ${service.ID} has no address` };
  const meta = service.Meta ?? {};
  const protocol = PROTOCOLS.has(meta.protocol ?? '') ? (meta.protocol as ServiceDefinition['protocol']) : options.protocol;
  const body: ServiceDefinition = {
    service: service.Service,
    instanceId: safeId('consul', [options.datacenter, node.Node, service.ID]),
    address,
    ports: { [protocol === 'tcp' ? 'tcp' : 'http']: service.Port },
    protocol,
    version: meta.version !== undefined && meta.version.length <= 64 ? meta.version : '0.0.0',
    labels: labelsOf(value, options.datacenter),
    weight: 100,
    check: { type: 'ttl', ttl: options.ttl },
    export: options.export,
    partition: { mode: 'keep-last-known' },
  };
  return { id: body.instanceId ?? '', body, ...consulHealth(value.Checks) };
}

/** What the sync registers on a Consul agent (the `consul` client's register options). */
export interface ConsulRegistration {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  check: { ttl: string; name: string; notes: string };
}

const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
/** Consul allows 64 meta pairs; the sync's own keys take five, and a Meridian agent behind a Consul API counts its two tags too. */
const MAX_META_LABELS = 57;

/**
 * A Meridian instance of the synced site as a Consul service, or why not: an instance the sync
 * mirrored from Consul (the loop mark), or one without a port.
 */
export function toConsul(row: InstanceRow, ttl: string): Mirror<ConsulRegistration> | { skip: string } {
  if (row.labels[SOURCE_KEY] === FROM_CONSUL) return { skip: 'mirrored from Consul by a sync' };
  const port = Object.values(row.ports)[0];
  if (port === undefined) return { skip: `instance ${row.instanceId} has no port` };
  const meta: Record<string, string> = {};
  for (const [key, value] of Object.entries(row.labels)) {
    if (Object.keys(meta).length >= MAX_META_LABELS) break;
    if (META_KEY.test(key) && key !== SOURCE_KEY && value.length <= 512) meta[key] = value;
  }
  Object.assign(meta, { [SOURCE_KEY]: FROM_MERIDIAN, 'meridian-site': row.site, 'meridian-instance': row.instanceId, protocol: row.protocol, version: row.version.slice(0, 512) });
  const id = safeId('meridian', [row.site, row.instanceId]);
  const body: ConsulRegistration = {
    id,
    name: row.service,
    address: row.address,
    port,
    tags: ['meridian', `site=${row.site}`],
    meta,
    check: { ttl, name: 'Meridian health', notes: `mirrored by meridian consul sync from site ${row.site}` },
  };
  const usable = row.health === 'passing' && row.usable;
  return { id, body, health: usable ? 'passing' : 'critical', note: usable ? '' : `${row.health}${row.stale ? `, stale ${Math.round(row.ageMs / 1000)}s` : ''} in Meridian` };
}
