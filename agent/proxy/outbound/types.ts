import type { LivePolicy } from '../../../shared/policy/index.js';
import type { CatalogEntry } from '../../../shared/catalog/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import type { MeshDialer } from '../../../shared/mesh/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { ServerTimeouts } from '../listener/listen.js';
import type { RequestObserver } from '../records.js';
import type { Balancer, FailoverRecord, Locality } from './balancer.js';
import type { OutlierOptions } from './outlier.js';

/** One upstream TCP port of a calling service. */
export interface UpstreamPort {
  readonly service: string;
  readonly port: number;
}

/** Options of {@link startOutbound}. */
export interface OutboundOptions {
  /** The calling local service: its identity is presented on every call. */
  readonly service: string;
  readonly identity: MtlsIdentity;
  readonly locality: Locality;
  readonly candidates: (service: string) => readonly CatalogEntry[];
  /** Opens the byte stream to an instance's mesh port (directly, or through the gateways). */
  readonly dialer: MeshDialer;
  /** HTTP listener port (HTTP/1.1 and h2c); absent: none. 0 picks a free one. */
  readonly http?: number;
  readonly upstreams?: readonly UpstreamPort[];
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string;
  /** Share one balancer (in-flight counts, ejections, failovers) between several callers. */
  readonly balancer?: Balancer;
  readonly outlier?: Partial<OutlierOptions>;
  /** Dial plus nested TLS handshake. Default 1 s, inside the failover goal. */
  readonly connectTimeoutMs?: number;
  /** Instances tried for one request when connecting fails. Default 3. */
  readonly maxAttempts?: number;
  /** Streams per pooled HTTP/2 session before a second one opens. Default 100. */
  readonly maxStreamsPerSession?: number;
  /** Pooled sessions are rotated after this (default 10 s), so a draining gateway's streams move on within its drain bound. */
  readonly maxSessionAgeMs?: number;
  /** Revocations to follow: pooled connections to a destination whose certificate is revoked close, and none is opened. */
  readonly policy?: LivePolicy;
  readonly timeouts?: Partial<ServerTimeouts>;
  /** Called for each finished request and TCP connection. */
  readonly onRequest?: RequestObserver;
  readonly logger?: Logger;
}

/** A calling service's outbound listeners. */
export interface OutboundProxy {
  readonly address: string;
  /** The bound HTTP port, when configured. */
  readonly httpPort: number | undefined;
  /** The bound upstream TCP ports. */
  readonly upstreams: readonly UpstreamPort[];
  /** New sessions present `identity`; sessions opened with the old one drain. */
  setIdentity(identity: MtlsIdentity): void;
  /** Services currently served from another site than this node's, and why. */
  failovers(): FailoverRecord[];
  /** Stops accepting, lets in-flight requests finish within `timeoutMs` (default 10 s), then destroys the rest. */
  close(timeoutMs?: number): Promise<void>;
}
