import type { EventEmitter } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { MeridianError } from '../../../shared/errors/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';

/** Server-side timeouts, in milliseconds. */
export interface ServerTimeouts {
  /** TLS handshake (inbound only). Default 10 s. */
  readonly handshakeMs: number;
  /** Until an HTTP/1.1 request's headers are complete; also bounds the outbound protocol sniff. Default 10 s. */
  readonly headersMs: number;
  /** Until a whole HTTP/1.1 request (body included) is received. Default 300 s, so large uploads pass. */
  readonly requestMs: number;
  /** An idle keep-alive connection or HTTP/2 session is closed after this. Default 60 s. */
  readonly idleMs: number;
}

/** Defaults of {@link ServerTimeouts}. */
export const DEFAULT_TIMEOUTS: ServerTimeouts = { handshakeMs: 10_000, headersMs: 10_000, requestMs: 300_000, idleMs: 60_000 };

/** Used when no logger is given: the proxies stay silent rather than writing to stderr on their own. */
export const SILENT_LOGGER: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Fills defaults and checks every timeout is a positive number, naming the bad field. */
export function resolveTimeouts(where: string, given: Partial<ServerTimeouts> | undefined): ServerTimeouts {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...given };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${where}: timeouts.${name} must be a positive number of milliseconds (got ${String(value)})`);
    }
  }
  return timeouts;
}

/**
 * How often Node's HTTP/1.1 server checks header and request deadlines: its 30 s default
 * would let a slow client outlive a 10 s headers timeout threefold.
 */
export function checkingInterval(timeouts: ServerTimeouts): number {
  return Math.max(100, Math.min(1_000, timeouts.headersMs / 2));
}

/** Checks a port option (0 picks a free port). */
export function assertPort(where: string, field: string, port: unknown): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${where}: ${field} must be a port number 0-65535 (got ${String(port)})`);
  }
}

/** Listens and resolves with the bound port; rejects on EADDRINUSE and the like. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Puts `handler` in front of the listeners a Node server installed for `event` (its own
 * connection handling): the handler decides per socket, and calls `next` to hand the socket to
 * the server's own code. This is how one TLS listener also carries raw TCP (ALPN
 * 'meridian-tcp'), and how one plain port carries both HTTP/1.1 and h2c.
 */
export function interceptListeners<T>(emitter: EventEmitter, event: string, handler: (value: T, next: (value: T) => void) => void): void {
  const original = emitter.listeners(event) as ((value: T) => void)[];
  if (original.length === 0) {
    throw new MeridianError('MERIDIAN_ERR_INTERNAL', `the server installed no '${event}' listener to put the proxy in front of`);
  }
  emitter.removeAllListeners(event);
  const next = (value: T): void => {
    for (const listener of original) listener.call(emitter, value);
  };
  emitter.on(event, (value: T) => handler(value, next));
}
