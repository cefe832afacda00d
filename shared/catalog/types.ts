/** Where an instance runs. */
export type Platform = 'kubernetes' | 'vm' | 'bare-metal';

/** What the instance speaks; the data plane picks its proxying mode from it. */
export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';

/** Health as the agent's checks last saw it. */
export type HealthState = 'passing' | 'critical' | 'unknown';

/**
 * What the federation does with a service's instances at a site it has lost contact with:
 * keep serving the last-known entries up to `maxStalenessMs` (default), or stop at once.
 */
export interface PartitionPolicy {
  readonly mode: 'keep-last-known' | 'fail-closed';
  readonly maxStalenessMs: number;
}

/** One registered instance of a service, as stored in its site's catalog bucket. */
export interface ServiceInstance {
  readonly service: string;
  readonly instanceId: string;
  readonly site: string;
  readonly region: string;
  readonly zone: string;
  readonly platform: Platform;
  readonly node: string;
  readonly address: string;
  /** Named ports, e.g. { http: 8080, grpc: 9090 }. */
  readonly ports: Readonly<Record<string, number>>;
  /** The node agent's mTLS inbound port through which the mesh reaches this instance; absent when the agent has no inbound listener. */
  readonly meshPort?: number;
  /** Whether other sites may reach this instance through the east-west gateways (default false). */
  readonly exported?: boolean;
  readonly protocol: Protocol;
  readonly version: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
  readonly health: HealthState;
  readonly partition: PartitionPolicy;
  /** The node lease this instance lives by: it leaves the catalog when the lease expires. */
  readonly leaseTtlMs: number;
  readonly registeredAt: string;
  readonly updatedAt: string;
}

/** Where the agent runs: stamped on every instance it registers. */
export interface NodeContext {
  readonly site: string;
  readonly region: string;
  readonly zone: string;
  readonly platform: Platform;
  readonly node: string;
}

/** An instance as a reader sees it: with how long ago its site was last heard from. */
export interface CatalogEntry {
  readonly instance: ServiceInstance;
  /** The instance's site has not been heard from for longer than the staleness threshold. */
  readonly stale: boolean;
  /** Milliseconds since this view last received anything from the instance's site (0 for the local site while connected). */
  readonly ageMs: number;
  /** Whether the partition policy still lets callers route to it (passing health and not past its staleness budget). */
  readonly usable: boolean;
}

/** Filters of a catalog lookup; all given filters must match. */
export interface CatalogQuery {
  readonly service?: string;
  readonly site?: string;
  readonly region?: string;
  readonly health?: HealthState;
  /** Every label given must be present with that value. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** What a view knows about one site of the federation. */
export interface SiteView {
  readonly site: string;
  readonly instances: number;
  /** Milliseconds since anything was received from the site; undefined if never. */
  readonly ageMs: number | undefined;
  readonly stale: boolean;
  /** Transit time of the site's latest lease renewal seen live (see SiteState.syncLagMs). */
  readonly syncLagMs: number | undefined;
}

/** The read side every consumer (agent API, proxies, status) uses: local memory, never the WAN. */
export interface CatalogReader {
  query(query?: CatalogQuery): CatalogEntry[];
  sites(): SiteView[];
  /** Increases on every change the view applies. */
  readonly revision: number;
  /** Resolves with the new revision once it exceeds `sinceRevision`, or with the current one after `timeoutMs`. */
  waitForChange(sinceRevision: number, timeoutMs: number, signal?: AbortSignal): Promise<number>;
}
