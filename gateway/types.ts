import type { GatewayAddress, MeshTarget } from '../shared/mesh/index.js';
import type { MtlsIdentity, SpiffeId } from '../shared/identity/index.js';
import type { LivePolicy } from '../shared/policy/index.js';
import type { Logger } from '../shared/telemetry/index.js';


/** Where the gateway delivers a stream for an instance of its own site: the destination agent's mTLS inbound port. */
export interface LocalEndpoint {
  readonly address: string;
  readonly meshPort: number;
}

/** HTTP statuses a refusal may carry: forbidden (default), unknown, or not serving right now. */
export type RefusalStatus = 403 | 404 | 503;

/** Why a stream is not delivered, in words the caller reads (sent back as the response reason). */
export interface LocalRefusal {
  readonly refused: string;
  readonly status?: RefusalStatus;
}

/**
 * What the gateway asks the catalog. Both calls are synchronous reads of the local, in-memory
 * view, so routing never waits on NATS; `checkLocalInstance` implements the refusal rules for a
 * catalog that only has to look the instance up.
 */
export interface GatewayResolver {
  /**
   * Resolves an instance of the gateway's own site for a caller from another site: refuses an
   * unknown instance, one of another service, one not exported, without a mesh port or not passing.
   */
  localInstance(target: MeshTarget): LocalEndpoint | LocalRefusal;
  /** The east-west gateway of another site, or undefined when none is known. */
  gatewayFor(site: string): GatewayAddress | undefined;
}

/** Retry delays of a tunnel: doubled after each failed attempt from `initialMs` up to `maxMs`, with ±20% jitter. */
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

/** Options of {@link startGateway}; every duration is in milliseconds. */
export interface GatewayOptions {
  /** The gateway's own credential: `spiffe://<td>/site/<site>/gateway/<name>`. */
  readonly identity: MtlsIdentity;
  readonly resolver: GatewayResolver;
  /** Listening address; default 127.0.0.1, port 0 (an ephemeral port, read it from `address`). */
  readonly host?: string;
  readonly port?: number;
  /** Concurrent streams a peer may open on one session (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); default 1000. */
  readonly maxConcurrentStreams?: number;
  /** TLS handshake bound for accepted and dialled connections; default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** Bound for a TCP connect to an instance, and for a remote gateway's answer to a CONNECT; default 5000. */
  readonly connectTimeoutMs?: number;
  /** A session without any frame (streams, pings) for this long and without open streams is closed; default 120000. */
  readonly sessionIdleMs?: number;
  /** Heartbeat (HTTP/2 PING) interval of tunnels to remote gateways; default 5000. */
  readonly pingIntervalMs?: number;
  /** A heartbeat unanswered for this long destroys the tunnel, which is then re-dialled; default 5000. */
  readonly pingTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /**
   * For this long after a tunnel goes down, new streams wait (up to `connectTimeoutMs`) for the
   * re-dial, which they bring forward, instead of failing: a peer that restarts loses no stream.
   * Past it, streams to the site fail at once. Default 3000; 0 always fails fast.
   */
  readonly holdWhileDownMs?: number;
  /** Called on every change of a tunnel's state (for the status API and logs). */
  readonly onLinkChange?: (link: LinkStatus) => void;
  /**
   * The policy the gateway enforces (revocations): a handshake from a revoked agent or gateway
   * leaf is refused, on every connection, resumed or not; on a change, sessions of peers now
   * revoked are closed with their streams, and tunnels to a now-revoked gateway close and are not
   * re-established while it stays revoked. Default: a LivePolicy of its own, nothing revoked.
   */
  readonly policy?: LivePolicy;
  /** Default: JSON lines on stderr, component `gateway`. */
  readonly logger?: Logger;
}

/** `connecting`: dialling, no failure yet; `up`: handshake done and a heartbeat answered; `down`: the last attempt failed, retrying with backoff. */
export type LinkState = 'up' | 'connecting' | 'down';

/** One tunnel to a remote site's gateway, as `links()` reports it. */
export interface LinkStatus {
  readonly site: string;
  readonly state: LinkState;
  /** When the link entered its current state (retries while down keep the time it went down). */
  readonly since: Date;
  /** Round-trip time of the last answered heartbeat. */
  readonly rttMs: number | undefined;
  readonly lastHeartbeat: Date | undefined;
  /** Streams open over the link now (the current session and sessions still draining). */
  readonly streams: number;
  /** Bytes received from the remote gateway / sent to it, over every stream of the link. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Consecutive failed attempts since the link was last up. */
  readonly failures: number;
  /** Why the link last failed or closed. */
  readonly lastError: string | undefined;
}

/** Counters of a gateway since it started. */
export interface GatewayStats {
  /** Open sessions by the kind of peer that opened them. */
  readonly sessions: { readonly agent: number; readonly gateway: number };
  readonly sessionsAccepted: number;
  /** Handshakes that failed and authenticated peers that may not use the gateway. */
  readonly sessionsRefused: number;
  readonly streams: { readonly active: number; readonly total: number; readonly refused: number };
  /** Bytes over TCP connections to instances of the gateway's own site: read from them / written to them. */
  readonly tcpBytesIn: number;
  readonly tcpBytesOut: number;
}

/** A running east-west gateway. */
export interface Gateway {
  /** The gateway's own verified SPIFFE identity. */
  readonly id: SpiffeId;
  /** The bound listening address. */
  readonly address: GatewayAddress;
  /**
   * Every tunnel to a remote gateway opened so far: by {@link Gateway.probe} or a first stream.
   * A tunnel is kept until the gateway drains, also while its peer is gone (down, with the reason).
   */
  links(): LinkStatus[];
  /**
   * Opens the tunnel to `site` now, without waiting for a stream, or returns the one open: its
   * heartbeat then tells whether the pair can connect before any call needs it. Throws
   * `MERIDIAN_ERR_NOT_FOUND` while no gateway of `site` is known, `MERIDIAN_ERR_UNAVAILABLE` once draining.
   */
  probe(site: string): LinkStatus;
  stats(): GatewayStats;
  /**
   * Renews the gateway's certificate: new handshakes (accepted and dialled) present it, open
   * sessions continue. The SPIFFE ID must stay the same.
   */
  setIdentity(identity: MtlsIdentity): void;
  /**
   * Stops accepting sessions and streams (GOAWAY), lets open streams finish for up to `timeoutMs`,
   * then cuts what is left. Idempotent: later calls share the first call's promise.
   */
  drain(timeoutMs: number): Promise<void>;
  /** `drain(0)`: cuts every open stream at once. */
  close(): Promise<void>;
}
