import type { RequestRecord } from './types.js';
import type { Duplex } from 'node:stream';

/** How long a side may still flush after the other closed, before it is destroyed. */
const LINGER_MS = 5_000;

/**
 * Pipes two byte streams into each other (a TCP mesh connection). An end on one side ends the
 * other (half-close passes through); an error destroys both; when one side closes, the other
 * is ended and then destroyed if it lingers, so no pipe outlives its peer for long.
 */
export function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const fail = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', fail);
  b.on('error', fail);
  const closeOther = (other: Duplex) => (): void => {
    if (other.destroyed) return;
    other.end();
    setTimeout(() => other.destroy(), LINGER_MS).unref();
  };
  a.once('close', closeOther(b));
  b.once('close', closeOther(a));
}

/** The record of a finished TCP connection: no method, path, status or trace. */
export function tcpRecord(parts: Pick<RequestRecord, 'direction' | 'service' | 'peerService' | 'peerSite' | 'startedAt'>): RequestRecord {
  return { ...parts, protocol: 'tcp', method: '', path: '', status: 0, durationMs: Date.now() - parts.startedAt, traceparent: '' };
}
