import type { X509Certificate } from 'node:crypto';
import type { Protocol } from '../../../shared/catalog/index.js';
import type { MtlsIdentity, SpiffeId } from '../../../shared/identity/index.js';
import type { EncodedSlashAction, LivePolicy } from '../../../shared/policy/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { ServerTimeouts } from '../listener/listen.js';
import type { RequestObserver } from '../records.js';
import type { RateLimiter } from '../ratelimit/limiter.js';

/** Where a service's app listens on this node, and what it speaks there. */
export interface LocalService {
  readonly address: string;
  readonly port: number;
  readonly protocol: Protocol;
  /**
   * Whether workloads of other sites may call it (the catalog's `exported`; default false): the
   * inbound refuses callers of another site otherwise, as the gateway does.
   */
  readonly exported?: boolean;
}

/** Looks up the app of a local service; undefined when the service does not run on this node. */
export type LocalServices = (service: string) => LocalService | undefined;

/** What the inbound proxy learned from one accepted mTLS connection (for telemetry and status). */
export interface InboundConnectionInfo {
  /** The local service the client's SNI selected. */
  readonly service: string;
  readonly caller: SpiffeId;
  /** The caller's leaf certificate, e.g. to tell a renewed certificate by its serial. */
  readonly certificate: X509Certificate;
  /** The negotiated ALPN: 'h2', 'http/1.1' or 'meridian-tcp'. */
  readonly alpn: string;
}

/** Options of {@link startInbound}. */
export interface InboundOptions {
  /** The node's mesh port; 0 picks a free one. */
  readonly port: number;
  /** Listen address. Default 127.0.0.1: exposing the mesh port is an explicit choice. */
  readonly host?: string;
  /** The workload identity of each local service, selected by the client's SNI. */
  readonly identities: ReadonlyMap<string, MtlsIdentity>;
  readonly localServices: LocalServices;
  /**
   * The policy set enforced here, read once per request and connection (`policy.current`); on
   * each change, connections of callers now revoked are closed. Default: a LivePolicy that stays
   * at NO_POLICY (every verified workload allowed, nothing revoked).
   */
  readonly policy?: LivePolicy;
  /** Request targets with `%2F` / `%5C`: refused with 400 (default) or kept encoded and opaque. */
  readonly encodedSlashes?: EncodedSlashAction;
  /** The policy's RateLimit enforcement (the agent's, with its Redis). Default: local buckets only, global limits as on a Redis loss. */
  readonly rateLimiter?: RateLimiter;
  readonly onConnection?: (info: InboundConnectionInfo) => void;
  /** Called for each finished request and TCP connection. */
  readonly onRequest?: RequestObserver;
  readonly timeouts?: Partial<ServerTimeouts>;
  /** HTTP/2 streams a caller may open per connection. Default 256. */
  readonly maxConcurrentStreams?: number;
  readonly logger?: Logger;
}

/** The node's mTLS inbound listener. */
export interface InboundProxy {
  readonly address: string;
  readonly port: number;
  /** Adds a local service or renews its identity; existing connections keep their session. */
  setIdentity(service: string, identity: MtlsIdentity): void;
  /** New handshakes for `service` fail; existing connections run on. */
  removeService(service: string): void;
  /** Stops accepting, lets in-flight requests finish within `timeoutMs` (default 10 s), then destroys the rest. */
  close(timeoutMs?: number): Promise<void>;
}
