import type { ServerHttp2Stream } from 'node:http2';
import { connect } from 'node:net';
import { type MeshTarget, describeTarget, pipe, type PipeCounters, refuse } from '../shared/mesh/index.js';
import type { GatewayResolver } from './types.js';

/** What delivering a stream to an instance of the gateway's own site needs. */
export interface LocalRouteContext {
  readonly resolver: GatewayResolver;
  readonly connectTimeoutMs: number;
  /** `aToB`: bytes from the caller to the instance; `bToA`: back. */
  readonly counters: PipeCounters;
}

/**
 * Delivers a CONNECT stream to the destination agent's inbound port over plain TCP. The stream
 * already carries the calling workload's own TLS session, so the gateway adds no TLS of its own
 * here: the agent terminates the caller's TLS and sees the caller's certificate, not the gateway's.
 * The 200 goes out only once the TCP connect succeeded, so a caller never writes into a void.
 */
export async function routeLocal(stream: ServerHttp2Stream, target: MeshTarget, context: LocalRouteContext): Promise<void> {
  // Async so that a resolver that throws turns into a refusal, never into an exception in an event handler.
  const decision = context.resolver.localInstance(target);
  if ('refused' in decision) {
    refuse(stream, decision.status ?? 403, decision.refused);
    return;
  }
  const where = `${describeTarget(target)} at ${decision.address}:${decision.meshPort}`;
  // Half-open so an end from one side reaches the other as a FIN without closing the way back.
  const socket = connect({ host: decision.address, port: decision.meshPort, allowHalfOpen: true, noDelay: true });
  return new Promise<void>((resolve) => {
    let settled = false;
    const settle = (then: () => Promise<void> | void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('close', onCallerGone);
      void Promise.resolve(then()).then(resolve);
    };
    const onCallerGone = (): void => settle(() => void socket.destroy());
    const timer = setTimeout(() => settle(() => {
      socket.destroy();
      refuse(stream, 504, `connect to instance ${where} timed out after ${context.connectTimeoutMs} ms`);
    }), context.connectTimeoutMs);
    socket.on('error', (error: Error) => settle(() => refuse(stream, 502, `instance ${where} is unreachable: ${error.message}`)));
    socket.once('close', () => settle(() => refuse(stream, 502, `instance ${where} closed the connection`)));
    stream.once('close', onCallerGone);
    socket.once('connect', () => settle(() => {
      if (stream.destroyed || stream.closed) {
        socket.destroy();
        return;
      }
      stream.respond({ ':status': 200 });
      return pipe(stream, socket, context.counters);
    }));
  });
}
