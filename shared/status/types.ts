import type { PolicyLatest } from '../policy/index.js';

/**
 * What each Meridian process reports about itself. Agents, gateways and control services put
 * one record each into their site's status bucket (`status-<site>`) every interval; every
 * site's control service follows all sites' buckets, so any site can answer for the federation.
 */

/** The roles that report. */
export type ReporterKind = 'agent' | 'gateway' | 'control';

/** A certificate a process presents, and when it stops being valid. */
export interface CertificateStatus {
  /** 'site-ca' (the site's intermediate CA), 'gateway', 'agent' (a node's own identity) or 'workload'. */
  readonly role: 'site-ca' | 'gateway' | 'agent' | 'workload';
  /** The SPIFFE ID it carries. */
  readonly identity: string;
  /** ISO time. */
  readonly notAfter: string;
  /** True once the process presents a certificate past its notAfter (its renewal kept failing): see the process log for what to do. */
  readonly expired?: boolean;
}

/** Requests from one local service to one destination, as the calling agent saw them. */
export interface TrafficEdge {
  readonly service: string;
  readonly peerService: string;
  /** The site of the instances that answered. */
  readonly peerSite: string;
  /** Since the reporter started. */
  readonly requests: number;
  /** Responses >= 500 and requests that got no response. */
  readonly errors: number;
  /** Requests per second over the last report interval. */
  readonly rps: number;
}

/** A service whose calls currently leave the caller's site, and why (agents' balancers decide it). */
export interface FailoverStatus {
  readonly service: string;
  readonly fromSite: string;
  readonly toSite: string;
  readonly reason: string;
  /** ISO time it started. */
  readonly since: string;
  /** Nearer instances exist but none is usable; false: the service only runs farther away. */
  readonly degraded: boolean;
}

/** How one site's catalog looks from the reporter's site. */
export interface CatalogSiteStatus {
  readonly site: string;
  readonly services: number;
  readonly instances: number;
  /** Instances passing their health checks. */
  readonly passing: number;
  /** Milliseconds since anything arrived from that site; null before the first message. */
  readonly ageMs: number | null;
  readonly stale: boolean;
  /**
   * Transit time of that site's latest lease renewal (its write time to its arrival here);
   * null before one arrived live. Across machines it includes their clock offset.
   */
  readonly syncLagMs: number | null;
}

/** One east-west tunnel of a gateway. */
export interface LinkStatusRecord {
  readonly peerSite: string;
  readonly state: 'up' | 'connecting' | 'down';
  /** ISO time it entered its state. */
  readonly since: string;
  readonly lastHeartbeat: string | null;
  readonly rttMs: number | null;
  readonly streams: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly lastError: string | null;
}

/** Fields every record has. */
export interface ReporterBase {
  readonly kind: ReporterKind;
  /** Node name (agent), gateway name, or the site name (control). */
  readonly name: string;
  readonly site: string;
  readonly region: string;
  readonly platform: string;
  /** ISO time of this report, by the reporter's clock. */
  readonly at: string;
  readonly startedAt: string;
  /** The reporter writes every this many milliseconds: a record older than 3 intervals is down. */
  readonly intervalMs: number;
  readonly certificates: readonly CertificateStatus[];
  /** The policy version the reporter enforces (the federation policy stream's sequence); null while none is published. */
  readonly policyVersion: number | null;
  /** The newest policy version the reporter refused to enforce, and why (a set it could not parse); null when none. */
  readonly policyRejected: PolicyRejection | null;
  /**
   * Entries left out of this report, per list field (`traffic`, `services`...): the report keeps
   * the busiest traffic pairs only, and is trimmed to fit the NATS server's max_payload. Absent
   * when nothing was left out.
   */
  readonly omitted?: Readonly<Record<string, number>>;
  /** The site trust document this process follows (agents and gateways): the version applied (0: none yet) and why the last one was refused, if it was. */
  readonly trust?: TrustStatus;
}

/** A policy version a reporter refused, and why. */
export interface PolicyRejection {
  readonly version: number;
  readonly reason: string;
}

/** The newest version a site holds and when it was applied (what its control service reports). */
export type { PolicyLatest } from '../policy/index.js';

/** What a process reports about the trust document it follows. */
export interface TrustStatus {
  readonly version: number;
  readonly refused?: string;
}

export interface AgentStatus extends ReporterBase {
  readonly kind: 'agent';
  readonly natsConnected: boolean;
  /** Services registered on the node. */
  readonly services: readonly string[];
  readonly traffic: readonly TrafficEdge[];
  readonly failovers: readonly FailoverStatus[];
  /** Calls refused at this node's inbound (authorization, misdirected), since start. */
  readonly rejections: number;
  /** Requests refused at this node's inbound by a rate limit (429), since start (absent: none). */
  readonly rateLimited?: number;
}

export interface GatewayStatus extends ReporterBase {
  readonly kind: 'gateway';
  readonly links: readonly LinkStatusRecord[];
  /** Streams refused (unexported service, unknown instance, foreign identity), since start. */
  readonly rejections: number;
  readonly streamsActive: number;
}

export interface ControlStatus extends ReporterBase {
  readonly kind: 'control';
  /** The federation's catalog as this site sees it, one row per site. */
  readonly catalog: readonly CatalogSiteStatus[];
  /** The newest policy version the site holds; null while none is published. */
  readonly policyLatest: PolicyLatest | null;
  /** Services whose mTLS mode is permissive in the policy the control service enforces ('*': the federation-wide mode). */
  readonly policyPermissive: readonly string[];
  /** Revocation entries in force (not yet expired) in the policy the control service enforces. */
  readonly policyRevocations: number;
}

export type StatusRecord = AgentStatus | GatewayStatus | ControlStatus;
