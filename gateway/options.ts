import { MeridianError } from '../shared/errors/index.js';
import { LivePolicy } from '../shared/policy/index.js';
import { jsonLogger, type Logger } from '../shared/telemetry/index.js';
import type { GatewayOptions, GatewayResolver, LinkStatus } from './types.js';

/** Gateway settings with every default applied; frozen once resolved. */
export interface ResolvedGatewayOptions {
  readonly resolver: GatewayResolver;
  readonly host: string;
  readonly port: number;
  readonly maxConcurrentStreams: number;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly sessionIdleMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly holdWhileDownMs: number;
  readonly onLinkChange: (link: LinkStatus) => void;
  readonly policy: LivePolicy;
  readonly logger: Logger;
}

/** Defaults of {@link GatewayOptions}, exported so the CLI and docs print the same values. */
export const GATEWAY_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxConcurrentStreams: 1000,
  handshakeTimeoutMs: 5000,
  connectTimeoutMs: 5000,
  sessionIdleMs: 120_000,
  pingIntervalMs: 5000,
  pingTimeoutMs: 5000,
  backoffInitialMs: 100,
  backoffMaxMs: 5000,
  holdWhileDownMs: 3000,
});

function bad(field: string, message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `startGateway: ${field} ${message}`, { details: { field } });
}

function integer(field: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw bad(field, `must be an integer from ${min} to ${max} (got ${String(value)})`);
  return value;
}

/** Fails fast, naming the option, before anything listens. */
export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  if (typeof options.resolver?.localInstance !== 'function' || typeof options.resolver.gatewayFor !== 'function') {
    throw bad('resolver', 'must implement localInstance(target) and gatewayFor(site)');
  }
  const backoffInitialMs = integer('backoff.initialMs', options.backoff?.initialMs, GATEWAY_DEFAULTS.backoffInitialMs, 1, 60_000);
  const resolved: ResolvedGatewayOptions = {
    resolver: options.resolver,
    host: options.host ?? GATEWAY_DEFAULTS.host,
    port: integer('port', options.port, GATEWAY_DEFAULTS.port, 0, 65_535),
    maxConcurrentStreams: integer('maxConcurrentStreams', options.maxConcurrentStreams, GATEWAY_DEFAULTS.maxConcurrentStreams, 1, 100_000),
    handshakeTimeoutMs: integer('handshakeTimeoutMs', options.handshakeTimeoutMs, GATEWAY_DEFAULTS.handshakeTimeoutMs, 1, 600_000),
    connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs, GATEWAY_DEFAULTS.connectTimeoutMs, 1, 600_000),
    sessionIdleMs: integer('sessionIdleMs', options.sessionIdleMs, GATEWAY_DEFAULTS.sessionIdleMs, 1, 86_400_000),
    pingIntervalMs: integer('pingIntervalMs', options.pingIntervalMs, GATEWAY_DEFAULTS.pingIntervalMs, 10, 3_600_000),
    pingTimeoutMs: integer('pingTimeoutMs', options.pingTimeoutMs, GATEWAY_DEFAULTS.pingTimeoutMs, 10, 3_600_000),
    backoffInitialMs,
    backoffMaxMs: integer('backoff.maxMs', options.backoff?.maxMs, Math.max(GATEWAY_DEFAULTS.backoffMaxMs, backoffInitialMs), backoffInitialMs, 3_600_000),
    holdWhileDownMs: integer('holdWhileDownMs', options.holdWhileDownMs, GATEWAY_DEFAULTS.holdWhileDownMs, 0, 600_000),
    onLinkChange: options.onLinkChange ?? (() => undefined),
    // Before any policy set is published nothing is revoked.
    policy: options.policy ?? new LivePolicy(),
    logger: options.logger ?? jsonLogger('gateway'),
  };
  return Object.freeze(resolved);
}
