import { MeridianError } from '../../shared/errors/index.js';
import { ActiveCheck } from './active.js';
import { grpcProbe } from './probe-grpc.js';
import { httpProbe } from './probe-http.js';
import { tcpProbe } from './probe-tcp.js';
import { resolveCheck, type ResolvedCheck } from './resolve.js';
import { TtlCheck } from './ttl.js';
import type { HealthCheckHandle, HealthCheckOptions, Probe } from './types.js';

/**
 * Starts checking one service instance and returns its handle.
 *
 * - Starts in `unknown`; an http, tcp or grpc check probes at once, then every `interval`
 *   (default 10s), each probe bounded by `timeout` (default 2s). Probes never overlap: a tick
 *   that finds the previous probe still running is skipped.
 * - Flips to passing after `healthyThreshold` (default 1) successes in a row and to critical
 *   after `unhealthyThreshold` (default 3) failures in a row. Out of `unknown`, the first result
 *   decides either way, so a new instance's health reaches the catalog within one interval.
 *   `onChange` is called on flips only.
 * - http: GET `path` (default `/`), 2xx passes, 3xx and everything else fails (redirects are
 *   not followed); tcp: a connection within the timeout passes; grpc: grpc.health.v1.Health/Check
 *   for `service` (default `''`, the whole server), only SERVING passes; ttl: see passTtl().
 *
 * Throws MERIDIAN_ERR_CONFIG_INVALID naming the field for an unknown port name, a port out of
 * range, a zero or malformed duration, or a threshold below 1; nothing is started then.
 */
export function startHealthCheck(options: HealthCheckOptions): HealthCheckHandle {
  checkOptions(options);
  const now = options.now ?? Date.now;
  const resolved = resolveCheck(options.check, options.address, options.ports);
  if (resolved.type === 'ttl') return new TtlCheck({ ttlMs: resolved.ttlMs, onChange: options.onChange, now });
  return new ActiveCheck({ type: resolved.type, probe: probeFor(resolved), timing: resolved, onChange: options.onChange, now });
}

function probeFor(check: Exclude<ResolvedCheck, { type: 'ttl' }>): Probe {
  switch (check.type) {
    case 'http':
      return httpProbe(check);
    case 'tcp':
      return tcpProbe(check);
    case 'grpc':
      return grpcProbe(check);
  }
}

/** Fail-fast checks for callers outside the type system (plain JS, parsed JSON). */
function checkOptions(options: HealthCheckOptions): void {
  const fail = (message: string): never => {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startHealthCheck: ${message}`);
  };
  const raw = options as Partial<Record<keyof HealthCheckOptions, unknown>>;
  if (typeof raw.check !== 'object' || raw.check === null) fail('options.check must be a health check object');
  if (typeof raw.address !== 'string') fail('options.address must be a string');
  if (typeof raw.ports !== 'object' || raw.ports === null) fail('options.ports must be an object of named ports');
  if (typeof raw.onChange !== 'function') fail('options.onChange must be a function');
  if (raw.now !== undefined && typeof raw.now !== 'function') fail('options.now must be a function');
  const type = (raw.check as { type?: unknown }).type;
  if (type !== 'http' && type !== 'tcp' && type !== 'grpc' && type !== 'ttl') {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `check.type: ${JSON.stringify(type)} is not one of http, tcp, grpc, ttl`, { details: { field: 'check.type' } });
  }
}
