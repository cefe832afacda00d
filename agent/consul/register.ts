import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MAX_LABELS } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { DNS_LABEL } from '../../shared/text/index.js';
import { parseGoDuration } from './duration.js';
import { TAG_LABEL_PREFIX } from './model.js';

const Str = (options: object = {}): ReturnType<typeof Type.String> => Type.String({ maxLength: 256, ...options });
const Duration = Str({ maxLength: 32 });

/** Check fields Meridian maps; the ones it cannot honour are refused by name (UNSUPPORTED_CHECK). */
const CheckSchema = Type.Object(
  {
    CheckID: Type.Optional(Str()),
    Name: Type.Optional(Str()),
    Notes: Type.Optional(Str({ maxLength: 1024 })),
    Status: Type.Optional(Str()),
    TTL: Type.Optional(Duration),
    HTTP: Type.Optional(Str({ maxLength: 1024 })),
    Method: Type.Optional(Str()),
    TCP: Type.Optional(Str()),
    GRPC: Type.Optional(Str()),
    GRPCUseTLS: Type.Optional(Type.Boolean()),
    Interval: Type.Optional(Duration),
    Timeout: Type.Optional(Duration),
    DeregisterCriticalServiceAfter: Type.Optional(Duration),
    DisableRedirects: Type.Optional(Type.Boolean()),
    OutputMaxSize: Type.Optional(Type.Integer({ minimum: 0 })),
    SuccessBeforePassing: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    FailuresBeforeCritical: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  },
  { additionalProperties: false },
);

/** The body of `PUT /v1/agent/service/register`, in Consul's field names and casing. */
export const ConsulRegistrationSchema = Type.Object(
  {
    ID: Type.Optional(Str()),
    Name: Str({ minLength: 1 }),
    Tags: Type.Optional(Type.Array(Str(), { maxItems: MAX_LABELS })),
    Address: Type.Optional(Str()),
    Port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    Meta: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Str(), { maxProperties: MAX_LABELS })),
    Weights: Type.Optional(Type.Object({ Passing: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })), Warning: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false })),
    EnableTagOverride: Type.Optional(Type.Boolean()),
    Kind: Type.Optional(Type.Literal('')),
    Namespace: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('default')])),
    Partition: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('default')])),
    Check: Type.Optional(CheckSchema),
    Checks: Type.Optional(Type.Array(CheckSchema, { maxItems: 1 })),
  },
  { additionalProperties: false },
);
export type ConsulRegistration = Static<typeof ConsulRegistrationSchema>;
type ConsulCheck = Static<typeof CheckSchema>;

/** Fields Consul knows and Meridian does not serve: named in the refusal rather than "unexpected property". */
const UNSUPPORTED_SERVICE: Record<string, string> = {
  Proxy: 'Connect proxies are not supported: Meridian agents proxy every service',
  Connect: 'Consul Connect is not supported: Meridian agents proxy every service',
  SocketPath: 'Unix socket services are not supported',
  TaggedAddresses: 'tagged addresses are not supported',
};
const UNSUPPORTED_CHECK: Record<string, string> = {
  Args: 'script checks are not supported (TTL, HTTP, TCP and GRPC are)',
  ScriptArgs: 'script checks are not supported (TTL, HTTP, TCP and GRPC are)',
  DockerContainerID: 'Docker checks are not supported (TTL, HTTP, TCP and GRPC are)',
  Shell: 'script checks are not supported (TTL, HTTP, TCP and GRPC are)',
  Script: 'script checks are not supported (TTL, HTTP, TCP and GRPC are)',
  H2Ping: 'H2PING checks are not supported (TTL, HTTP, TCP and GRPC are)',
  TCPUseTLS: 'TCP checks over TLS are not supported',
  H2PING: 'H2PING checks are not supported (TTL, HTTP, TCP and GRPC are)',
  AliasService: 'alias checks are not supported (TTL, HTTP, TCP and GRPC are)',
  AliasNode: 'alias checks are not supported (TTL, HTTP, TCP and GRPC are)',
  UDP: 'UDP checks are not supported (TTL, HTTP, TCP and GRPC are)',
  OSService: 'OS service checks are not supported (TTL, HTTP, TCP and GRPC are)',
  Header: 'HTTP check headers are not supported',
  Body: 'HTTP check bodies are not supported',
  TLSSkipVerify: 'HTTPS checks are not supported',
  TLSServerName: 'HTTPS checks are not supported',
  FailuresBeforeWarning: 'Meridian has no warning state',
};

const SERVICE_NAME = new RegExp(`^${DNS_LABEL}$`);
const compiled = TypeCompiler.Compile(ConsulRegistrationSchema);

function bad(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', message);
}

function refuseUnsupported(body: Record<string, unknown>): void {
  for (const [field, why] of Object.entries(UNSUPPORTED_SERVICE)) if (Object.hasOwn(body, field)) throw bad(`${field}: ${why}`);
  const checks: [string, unknown][] = [['Check', body['Check']], ...(Array.isArray(body['Checks']) ? body['Checks'].map((c, i): [string, unknown] => [`Checks.${i}`, c]) : [])];
  for (const [path, check] of checks) {
    if (check === null || typeof check !== 'object') continue;
    for (const [field, why] of Object.entries(UNSUPPORTED_CHECK)) if (Object.hasOwn(check, field)) throw bad(`${path}.${field}: ${why}`);
  }
}

/** Validates a registration body: the first violation names its Consul field. */
export function parseConsulRegistration(body: unknown): ConsulRegistration {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('body: a JSON object with at least Name is required');
  refuseUnsupported(body as Record<string, unknown>);
  const first = compiled.Errors(body).First();
  if (first !== undefined) {
    const field = first.path.replace(/^\//, '').replaceAll('/', '.') || 'body';
    throw bad(`${field}: ${first.message}`);
  }
  return body as ConsulRegistration;
}

function ms(text: string, field: string): string {
  return `${parseGoDuration(text, field)}ms`;
}

function timing(check: ConsulCheck, path: string): Record<string, unknown> {
  return {
    ...(check.Interval === undefined ? {} : { interval: ms(check.Interval, `${path}.Interval`) }),
    ...(check.Timeout === undefined ? {} : { timeout: ms(check.Timeout, `${path}.Timeout`) }),
    ...(check.SuccessBeforePassing ? { healthyThreshold: check.SuccessBeforePassing } : {}),
    ...(check.FailuresBeforeCritical ? { unhealthyThreshold: check.FailuresBeforeCritical } : {}),
  };
}

/** Meridian probes the instance's own address: a check aimed elsewhere would vouch for another host. */
function assertOwnHost(host: string, address: string, field: string): void {
  const loopback = (h: string): boolean => h === 'localhost' || h === '127.0.0.1' || h === '[::1]' || h === '::1';
  if (host === address || (loopback(host) && loopback(address))) return;
  throw bad(`${field}: checks probe the service's own Address (${address}), not ${host}`);
}

function hostPort(text: string, field: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !(port >= 1 && port <= 65535)) throw bad(`${field}: ${JSON.stringify(text)} must be host:port`);
  return { host: match[1], port };
}

/** A Consul check definition as a Meridian check (ttl, http, tcp or grpc). */
export function toMeridianCheck(check: ConsulCheck, path: string, address: string, serviceId: string): Record<string, unknown> {
  if (check.CheckID !== undefined && check.CheckID !== '' && check.CheckID !== `service:${serviceId}`) {
    throw bad(`${path}.CheckID: Meridian runs one check per instance, named service:${serviceId}`);
  }
  const kinds = (['TTL', 'HTTP', 'TCP', 'GRPC'] as const).filter((kind) => check[kind] !== undefined);
  if (kinds.length !== 1) throw bad(`${path}: exactly one of TTL, HTTP, TCP or GRPC is required${kinds.length > 1 ? ` (got ${kinds.join(', ')})` : ''}`);
  if (check.TTL !== undefined) return { type: 'ttl', ttl: ms(check.TTL, `${path}.TTL`) };
  if (check.HTTP !== undefined) {
    let url: URL;
    try {
      url = new URL(check.HTTP);
    } catch {
      throw bad(`${path}.HTTP: ${JSON.stringify(check.HTTP)} is not a URL`);
    }
    if (url.protocol !== 'http:') throw bad(`${path}.HTTP: only http:// checks are supported`);
    if (check.Method !== undefined && check.Method !== 'GET') throw bad(`${path}.Method: only GET is supported`);
    assertOwnHost(url.hostname, address, `${path}.HTTP`);
    return { type: 'http', port: Number(url.port || 80), path: `${url.pathname}${url.search}`, ...timing(check, path) };
  }
  if (check.GRPC !== undefined) {
    if (check.GRPCUseTLS === true) throw bad(`${path}.GRPCUseTLS: gRPC checks over TLS are not supported`);
    const [target = '', service = ''] = check.GRPC.split('/', 2);
    const { host, port } = hostPort(target, `${path}.GRPC`);
    assertOwnHost(host, address, `${path}.GRPC`);
    return { type: 'grpc', port, service, ...timing(check, path) };
  }
  const { host, port } = hostPort(check.TCP ?? '', `${path}.TCP`);
  assertOwnHost(host, address, `${path}.TCP`);
  return { type: 'tcp', port, ...timing(check, path) };
}

const CONTROL_META: Record<string, string> = { 'meridian-protocol': 'protocol', 'meridian-version': 'version', 'meridian-export': 'export' };

/**
 * A Consul registration as a Meridian service definition: ID is the instanceId, Name the service,
 * Port its one port (named after the protocol), Tags become `consul.tag.<n>` labels and Meta the
 * other labels; Meta `meridian-protocol`, `meridian-version` and `meridian-export` set those fields.
 */
export function toDefinition(registration: ConsulRegistration): Record<string, unknown> {
  const address = registration.Address === undefined || registration.Address === '' ? '127.0.0.1' : registration.Address;
  const id = registration.ID === undefined || registration.ID === '' ? registration.Name : registration.ID;
  if (!SERVICE_NAME.test(registration.Name)) throw bad(`Name: ${JSON.stringify(registration.Name.slice(0, 64))} must be a lower-case DNS label (a Meridian service name)`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) throw bad(`ID: ${JSON.stringify(id.slice(0, 64))} must be letters, digits, '_', '.' or '-' (a Meridian instanceId)`);
  if (registration.Port === undefined || registration.Port === 0) throw bad('Port: Meridian needs the service port (1-65535)');
  const labels: Record<string, string> = {};
  const controls: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(registration.Meta ?? {})) {
    const field = CONTROL_META[key];
    if (field === undefined) labels[key] = value;
    else controls[field] = field === 'export' ? value === 'true' : value;
  }
  (registration.Tags ?? []).forEach((tag, i) => (labels[`${TAG_LABEL_PREFIX}${i}`] = tag));
  if (Object.keys(labels).length > MAX_LABELS) throw bad(`Tags, Meta: at most ${MAX_LABELS} tags and meta pairs together`);
  const protocol = typeof controls['protocol'] === 'string' ? controls['protocol'] : 'http';
  const portName = protocol === 'grpc' || protocol === 'tcp' ? protocol : 'http';
  if (registration.Check !== undefined && (registration.Checks?.length ?? 0) > 0) throw bad('Checks: Meridian runs one check per instance; give Check or Checks, not both');
  const check = registration.Check ?? registration.Checks?.[0];
  const path = registration.Check === undefined ? 'Checks.0' : 'Check';
  return {
    service: registration.Name,
    instanceId: id,
    address,
    ports: { [portName]: registration.Port },
    labels,
    ...controls,
    ...(registration.Weights?.Passing === undefined ? {} : { weight: registration.Weights.Passing }),
    ...(check === undefined ? {} : { check: toMeridianCheck(check, path, address, id) }),
  };
}
