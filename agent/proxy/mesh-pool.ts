import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { ServiceInstance } from '../../shared/catalog/index.js';
import type { MtlsIdentity } from '../../shared/identity/index.js';
import type { MeshDialer } from '../../shared/mesh/index.js';
import { connectMeshSession } from './mesh-connect.js';
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
 * A calling service's nested-TLS HTTP/2 sessions, one pool entry per destination instance.
 * The caller's identity is read at connect time, so a renewal reaches every new session while
 * sessions already open finish their streams under the old certificate.
 */
export class MeshPool {
  private identity: MtlsIdentity;
  private readonly sessions: SessionPool<ServiceInstance>;

  constructor(options: MeshPoolOptions) {
    this.identity = options.identity;
    this.sessions = new SessionPool<ServiceInstance>({
      connect: (instance) =>
        connectMeshSession({ dialer: options.dialer, identity: this.identity, instance, timeoutMs: options.connectTimeoutMs }),
      maxStreamsPerSession: options.maxStreamsPerSession,
      idleMs: options.idleMs,
      ...(options.maxSessionAgeMs === undefined ? {} : { maxAgeMs: options.maxSessionAgeMs }),
    });
  }

  /** A stream to `instance`; rejects with ConnectFailure (dial or TLS) or SessionGone. */
  open(instance: ServiceInstance, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream> {
    // Site in the key too: an instance id is unique within its site's catalog only.
    return this.sessions.open(`${instance.site}/${instance.instanceId}`, instance, headers);
  }

  setIdentity(identity: MtlsIdentity): void {
    this.identity = identity;
    this.sessions.retire();
  }

  /** The identity new sessions present. */
  currentIdentity(): MtlsIdentity {
    return this.identity;
  }

  close(graceMs: number): Promise<void> {
    return this.sessions.close(graceMs);
  }
}
