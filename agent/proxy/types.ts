import type { X509Certificate } from 'node:crypto';
import type { CatalogEntry, Protocol } from '../../shared/catalog/index.js';
import type { MtlsIdentity, SpiffeId } from '../../shared/identity/index.js';
import type { MeshDialer } from '../../shared/mesh/index.js';
import type { FailoverStatus } from '../../shared/status/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import type { Balancer } from './balancer.js';

/** Where a service's app listens on this node, and what it speaks there. */
export interface LocalService {
  readonly address: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/** Looks up the app of a local service; undefined when the service does not run on this node. */
export type LocalServices = (service: string) => LocalService | undefined;

/** Decides whether a verified caller may call a local service (the policy hook; default: allow). */
export type Authorize = (caller: SpiffeId, service: string) => boolean;

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

/**
 * One finished request (or TCP connection) as a proxy saw it: the feed of metrics, access logs
 * and the status API's service graph. Called once, when the downstream response has closed.
 */
export interface RequestRecord {
  readonly direction: 'outbound' | 'inbound';
  /** The local service: the caller (outbound) or the callee (inbound). */
  readonly service: string;
  /** The other side's service: the destination (outbound) or the verified caller (inbound). */
  readonly peerService: string;
  /** The other side's site: the answering instance's (outbound; '' when none answered) or the caller's (inbound). */
  readonly peerSite: string;
  readonly protocol: 'http' | 'tcp';
  /** HTTP method and path; '' for TCP. */
  readonly method: string;
  readonly path: string;
  /** The status sent downstream; 0 when the request was reset before a response (or for TCP). */
  readonly status: number;
  /** From the request's arrival to the response's close. */
  readonly durationMs: number;
  /** The traceparent sent on (HTTP only). */
  readonly traceparent: string;
  /** Epoch milliseconds of the request's arrival. */
  readonly startedAt: number;
}

/** Receives each finished request; must be cheap and must not throw. */
export type RequestObserver = (record: RequestRecord) => void;

/** Server-side timeouts, in milliseconds. */
export interface ServerTimeouts {
  /** TLS handshake (inbound only). Default 10 s. */
  readonly handshakeMs: number;
  /** Until an HTTP/1.1 request's headers are complete; also bounds the outbound protocol sniff. Default 10 s. */
  readonly headersMs: number;
  /** Until a whole HTTP/1.1 request (body included) is received. Default 300 s, so large uploads pass. */
  readonly requestMs: number;
  /** An idle keep-alive connection or HTTP/2 session is closed after this. Default 300 s. */
  readonly idleMs: number;
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
  readonly authorize?: Authorize;
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

/** Where this node runs: the balancer prefers its site, then its region. */
export interface Locality {
  readonly site: string;
  readonly region: string;
}

/** Passive outlier detection. */
export interface OutlierOptions {
  /** Connect or TLS failures in a row that eject an instance. Default 1. */
  readonly consecutiveConnectFailures: number;
  /** 5xx responses in a row that eject an instance. Default 5. */
  readonly consecutive5xx: number;
  /** First ejection; each repeat adds as much again. Default 1 s. */
  readonly baseEjectionMs: number;
  /** Longest ejection. Default 30 s. */
  readonly maxEjectionMs: number;
}

/** Why calls to a service left the local site: the status report's record, as the balancer keeps it. */
export type FailoverRecord = FailoverStatus;

/** Options of the instance chooser. */
export interface BalancerOptions {
  readonly locality: Locality;
  /** The catalog entries of a service (the agent passes `view.query({ service })`). */
  readonly candidates: (service: string) => readonly CatalogEntry[];
  readonly outlier?: Partial<OutlierOptions>;
  /** Injected for tests; defaults to Date.now and Math.random. */
  readonly now?: () => number;
  readonly random?: () => number;
}

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
