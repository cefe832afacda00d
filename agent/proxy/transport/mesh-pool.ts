import type { ClientRequest } from 'node:http';
import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import { instanceKey, type ServiceInstance } from '../../../shared/catalog/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import type { MeshDialer } from '../../../shared/mesh/index.js';
import { H1Pool, type H1Head } from './h1-pool.js';
import { connectMeshSession, connectNested } from './mesh-connect.js';
import { SessionPool } from './session-pool.js';

/** Options of a {@link MeshPool}. */
export interface MeshPoolOptions {
  readonly identity: MtlsIdentity;
  readonly dialer: MeshDialer;
  readonly connectTimeoutMs: number;
  readonly maxStreamsPerSession: number;
  readonly idleMs: number;
  readonly maxSessionAgeMs?: number;
}


/**
 * A calling service's nested-TLS connections, pooled per destination instance: HTTP/2 sessions
 * (HTTP/2 and gRPC callers, HTTP/2 apps) and keep-alive HTTP/1.1 connections (HTTP/1.1 passed
 * through to HTTP/1.1 apps, with no translation at either agent). The caller's identity is read
 * at connect time, so a renewal reaches every new connection while open ones finish their
 * requests under the old certificate.
 */
export class MeshPool {
  private identity: MtlsIdentity;
  private readonly sessions: SessionPool<ServiceInstance>;
  private readonly h1: H1Pool<ServiceInstance>;

  constructor(options: MeshPoolOptions) {
    this.identity = options.identity;
    const maxAge = options.maxSessionAgeMs === undefined ? {} : { maxAgeMs: options.maxSessionAgeMs };
    this.sessions = new SessionPool<ServiceInstance>({
      connect: (instance) => connectMeshSession({ dialer: options.dialer, identity: this.identity, instance, timeoutMs: options.connectTimeoutMs }),
      maxStreamsPerSession: options.maxStreamsPerSession,
      idleMs: options.idleMs,
      ...maxAge,
    });
    this.h1 = new H1Pool<ServiceInstance>({
      connect: (instance) => connectNested({ dialer: options.dialer, identity: this.identity, instance, alpn: 'http/1.1', timeoutMs: options.connectTimeoutMs }),
      // Half the idle bound: this end lets an idle connection go well before the destination's
      // own keep-alive timeout (the same setting there) could close it under a new request.
      idleMs: Math.max(1, Math.floor(options.idleMs / 2)),
      ...maxAge,
    });
  }

  /** A stream to `instance`; rejects with ConnectFailure (dial or TLS) or SessionGone. */
  open(instance: ServiceInstance, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream> {
    return this.sessions.open(instanceKey(instance), instance, headers);
  }

  /**
   * An HTTP/1.1 request to `instance` on a pooled keep-alive connection, or a new one (its
   * 'error' is then the ConnectFailure when connecting failed).
   */
  requestH1(instance: ServiceInstance, head: H1Head): ClientRequest {
    return this.h1.request(instanceKey(instance), instance, head);
  }

  /** A pooled HTTP/1.1 connection to `instance` turned out closed: the next request opens a new one. */
  closeIdleH1(instance: ServiceInstance): void {
    this.h1.closeIdle(instanceKey(instance));
  }

  setIdentity(identity: MtlsIdentity): void {
    this.identity = identity;
    this.sessions.retire();
    this.h1.retire();
  }

  /** The identity new connections present. */
  currentIdentity(): MtlsIdentity {
    return this.identity;
  }

  close(graceMs: number): Promise<void> {
    this.h1.close();
    return this.sessions.close(graceMs);
  }
}
