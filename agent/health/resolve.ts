import { parseDuration } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import type { HealthCheck } from './types.js';

/** Defaults of every active check, as documented for `HealthCheckSchema`. */
export const CHECK_DEFAULTS = Object.freeze({
  interval: '10s',
  timeout: '2s',
  healthyThreshold: 1,
  unhealthyThreshold: 3,
  httpPath: '/',
  grpcService: '',
});

/** Timing and thresholds shared by http, tcp and grpc checks, in milliseconds. */
export interface ActiveTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

/** A check with its port resolved, durations parsed and defaults applied. */
export type ResolvedCheck =
  | ({ readonly type: 'http'; readonly host: string; readonly port: number; readonly path: string } & ActiveTiming)
  | ({ readonly type: 'tcp'; readonly host: string; readonly port: number } & ActiveTiming)
  | ({ readonly type: 'grpc'; readonly host: string; readonly port: number; readonly service: string } & ActiveTiming)
  | { readonly type: 'ttl'; readonly ttlMs: number };

type ActiveCheck = Exclude<HealthCheck, { type: 'ttl' }>;

/**
 * Validates what the schema cannot (the port name against the instance's ports, durations of
 * zero) and applies defaults, so a bad check fails at start with the field named rather than
 * turning critical later for a reason nobody reads.
 */
export function resolveCheck(check: HealthCheck, address: string, ports: Readonly<Record<string, number>>): ResolvedCheck {
  if (check.type === 'ttl') return { type: 'ttl', ttlMs: positiveDuration(check.ttl, 'check.ttl') };
  if (address.length === 0) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', 'address: must not be empty');
  // The schema defaults path and service, but checks built in code may skip the schema.
  const defaults: { type: string; path?: string | undefined; service?: string | undefined } = check;
  const target = { host: address, port: resolvePort(check.port, ports), ...resolveTiming(check) };
  switch (check.type) {
    case 'http':
      return { type: 'http', path: httpPath(defaults.path ?? CHECK_DEFAULTS.httpPath), ...target };
    case 'tcp':
      return { type: 'tcp', ...target };
    case 'grpc':
      return { type: 'grpc', service: defaults.service ?? CHECK_DEFAULTS.grpcService, ...target };
  }
}

/**
 * A port name is looked up in the instance's named ports; a number, or a string of digits
 * (YAML authors quote numbers), is used as is.
 */
export function resolvePort(ref: string | number, ports: Readonly<Record<string, number>>): number {
  const port = typeof ref === 'number' ? ref : /^\d+$/.test(ref) ? Number(ref) : ports[ref];
  if (port === undefined) {
    const known = Object.keys(ports).sort().join(', ') || 'none';
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `check.port: ${JSON.stringify(ref)} is not a named port of the instance (known: ${known})`, {
      details: { field: 'check.port', value: ref },
    });
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `check.port: ${JSON.stringify(ref)} is not a port number between 1 and 65535`, {
      details: { field: 'check.port', value: ref },
    });
  }
  return port;
}

function resolveTiming(check: ActiveCheck): ActiveTiming {
  return {
    intervalMs: positiveDuration(check.interval ?? CHECK_DEFAULTS.interval, 'check.interval'),
    timeoutMs: positiveDuration(check.timeout ?? CHECK_DEFAULTS.timeout, 'check.timeout'),
    healthyThreshold: threshold(check.healthyThreshold ?? CHECK_DEFAULTS.healthyThreshold, 'check.healthyThreshold'),
    unhealthyThreshold: threshold(check.unhealthyThreshold ?? CHECK_DEFAULTS.unhealthyThreshold, 'check.unhealthyThreshold'),
  };
}

/** A zero interval would spin the event loop and a zero timeout would fail every probe. */
function positiveDuration(text: string, field: string): number {
  let ms: number;
  try {
    ms = parseDuration(text, field);
  } catch (err) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', (err as Error).message, { cause: err, details: { field } });
  }
  if (ms < 1) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${field}: ${JSON.stringify(text)} must be at least 1ms`, { details: { field } });
  // Node clamps longer timers to 1 ms, which would turn a typo into a probe storm.
  if (ms > 2_147_483_647) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${field}: ${JSON.stringify(text)} is longer than 24.8 days`, { details: { field } });
  return Math.round(ms);
}

/** Node refuses the same characters at request time; failing at start names the field. */
function httpPath(path: string): string {
  if (!path.startsWith('/') || /[^\u0021-\u00ff]/.test(path)) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `check.path: ${JSON.stringify(path)} must start with / and contain no spaces or control characters`, {
      details: { field: 'check.path' },
    });
  }
  return path;
}

function threshold(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${field}: ${JSON.stringify(value)} must be an integer of at least 1`, { details: { field } });
  }
  return value;
}
