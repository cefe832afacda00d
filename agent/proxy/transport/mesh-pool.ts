import type { ClientRequest } from 'node:http';
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { instanceKey, type ServiceInstance } from '../../../shared/catalog/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import type { MeshDialer } from '../../../shared/mesh/index.js';
import { H1Pool, type H1Head } from './h1-pool.js';
import { connectMeshSession, connectNested } from './mesh-connect.js';
import { SessionPool } from './session-pool.js';
import { MeridianError } from '../../../shared/errors/index.js';
import { LivePolicy, type RevocationList } from '../../../shared/policy/index.js';
import { ConnectFailure } from './mesh-connect.js';

/** The URI SAN of a peer's leaf (a mesh certificate carries exactly one), as revocations name it. */
function leafOf(socket: TLSSocket): { uri: string | undefined; serial: string; notAfter: number } | undefined {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return undefined;
  const uri = certificate.subjectAltName?.split(', ').find((name) => name.startsWith('URI:'));
  return { uri: uri?.slice(4), serial: certificate.serialNumber, notAfter: Date.parse(certificate.validTo) };
}

/** Options of a {@link MeshPool}. */
export interface MeshPoolOptions {
  readonly identity: MtlsIdentity;
  readonly dialer: MeshDialer;
  readonly connectTimeoutMs: number;
  readonly maxStreamsPerSession: number;
  readonly idleMs: number;
  readonly maxSessionAgeMs?: number;
  /** Revocations to follow: no connection to a revoked destination is opened or kept. Default: nothing revoked. */
  readonly policy?: LivePolicy;
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
  /** Every pooled connection still open, so a revocation can close those to a now-revoked destination. */
  private readonly openSockets = new Set<TLSSocket>();
  private readonly openSessions = new Set<ClientHttp2Session>();
  private readonly policy: LivePolicy;
  private readonly unsubscribe: () => void;

  constructor(options: MeshPoolOptions) {
    this.identity = options.identity;
    this.policy = options.policy ?? new LivePolicy();
    this.unsubscribe = this.policy.onChange((next) => this.dropRevoked(next.revocations));
    const maxAge = options.maxSessionAgeMs === undefined ? {} : { maxAgeMs: options.maxSessionAgeMs };
    this.sessions = new SessionPool<ServiceInstance>({
      connect: async (instance) =>
        this.trackSession(instance, await connectMeshSession({ dialer: options.dialer, identity: this.identity, instance, timeoutMs: options.connectTimeoutMs })),
      maxStreamsPerSession: options.maxStreamsPerSession,
      idleMs: options.idleMs,
      ...maxAge,
    });
    this.h1 = new H1Pool<ServiceInstance>({
      connect: async (instance) =>
        this.track(instance, await connectNested({ dialer: options.dialer, identity: this.identity, instance, alpn: 'http/1.1', timeoutMs: options.connectTimeoutMs })),
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

  /**
   * Destroys every pooled connection whose destination's certificate `revocations` revokes (a
   * policy change); the next request to that instance opens a new connection, which the
   * destination's renewed certificate may serve, and a revoked one fails verification there.
   */
  dropRevoked(revocations: RevocationList): void {
    if (revocations.size === 0) return;
    for (const socket of this.openSockets) {
      const leaf = leafOf(socket);
      if (leaf !== undefined && revocations.isRevoked(leaf)) socket.destroy();
    }
    for (const session of this.openSessions) {
      const leaf = leafOf(session.socket as TLSSocket);
      if (leaf !== undefined && revocations.isRevoked(leaf)) session.destroy();
    }
  }

  /**
   * Refuses a new connection whose destination presented a revoked certificate: the attempt
   * fails as a connect failure, so the balancer moves to another instance.
   */
  private refuseRevoked(instance: ServiceInstance, socket: TLSSocket, destroy: () => void): void {
    const revocations = this.policy.current.revocations;
    if (revocations.size === 0) return;
    const leaf = leafOf(socket);
    if (leaf === undefined || !revocations.isRevoked(leaf)) return;
    destroy();
    throw new ConnectFailure(instance, new MeridianError('MERIDIAN_ERR_FORBIDDEN', `instance ${instance.instanceId} presented a revoked certificate (${String(leaf.uri)}, serial ${leaf.serial})`));
  }

  private track(instance: ServiceInstance, socket: TLSSocket): TLSSocket {
    this.refuseRevoked(instance, socket, () => socket.destroy());
    this.openSockets.add(socket);
    socket.once('close', () => this.openSockets.delete(socket));
    return socket;
  }

  private trackSession(instance: ServiceInstance, session: ClientHttp2Session): ClientHttp2Session {
    this.refuseRevoked(instance, session.socket as TLSSocket, () => session.destroy());
    this.openSessions.add(session);
    session.once('close', () => this.openSessions.delete(session));
    return session;
  }

  close(graceMs: number): Promise<void> {
    this.unsubscribe();
    this.h1.close();
    return this.sessions.close(graceMs);
  }
}
