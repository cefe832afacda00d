import type { KvEntry } from '@nats-io/kv';
import { parseKey, type NodeLease } from './layout.js';
import { decodeInstance } from './instance.js';
import type { ServiceInstance } from './types.js';

interface LeaseRecord {
  readonly lease: NodeLease;
  readonly revision: number;
  /** Local clock when this view received the renewal: no cross-site clock sync is assumed. */
  readonly receivedAt: number;
}

/** What one site's bucket holds, as this view last received it. */
export class SiteState {
  readonly instances = new Map<string, { instance: ServiceInstance; revision: number; key: string }>();
  readonly leases = new Map<string, LeaseRecord>();
  /** Local time anything last arrived from the site; undefined before the first message. */
  lastHeardAt: number | undefined;
  lastRevision = 0;
  warm = false;
  /**
   * Transit time of the latest lease renewal: its writer's clock at the write to ours at arrival
   * (includes the clock offset across machines). Undefined until one arrives live: renewals
   * replayed after a (re)start are old, so a replaced state does not carry this over.
   */
  syncLagMs: number | undefined;

  constructor(readonly site: string) {}

  /** Applies one KV entry; returns false when it changed nothing a reader can see. */
  apply(entry: KvEntry, receivedAt: number): boolean {
    this.lastHeardAt = receivedAt;
    this.lastRevision = Math.max(this.lastRevision, entry.revision);
    const key = parseKey(entry.key);
    const removed = entry.operation !== 'PUT';
    if (key.kind === 'lease') {
      if (removed) this.leases.delete(key.node);
      else this.#applyLease(key.node, entry, receivedAt);
      return false;
    }
    if (key.kind !== 'instance') return false;
    if (removed) return this.instances.delete(entry.key);
    const instance = decodeInstance(entry.value);
    // A record claiming another site is refused: each site is authoritative for its own instances only.
    if (instance === undefined || instance.site !== this.site) return false;
    this.instances.set(entry.key, { instance, revision: entry.revision, key: entry.key });
    return true;
  }

  #applyLease(node: string, entry: KvEntry, receivedAt: number): void {
    try {
      const lease = entry.json<NodeLease>();
      this.leases.set(node, { lease, revision: entry.revision, receivedAt });
      const writtenAt = Date.parse(lease.renewedAt);
      if (Number.isFinite(writtenAt)) this.syncLagMs = Math.max(0, receivedAt - writtenAt);
    } catch {
      this.leases.delete(node);
    }
  }

  /**
   * A node is dead when its lease was not renewed within its TTL while its site kept talking:
   * silence from the whole site is a partition (entries turn stale), not a death.
   */
  nodeExpired(node: string, now: number, siteStale: boolean, ttlFactor = 1): boolean {
    if (siteStale) return false;
    const record = this.leases.get(node);
    if (record === undefined) return this.warm;
    return now - record.receivedAt > record.lease.ttlMs * ttlFactor;
  }

  /** Replaces the content with another state's (a fresh replay after a restart or a snapshot). */
  replaceWith(other: SiteState): void {
    this.instances.clear();
    this.leases.clear();
    for (const [k, v] of other.instances) this.instances.set(k, v);
    for (const [k, v] of other.leases) this.leases.set(k, v);
    this.lastHeardAt = other.lastHeardAt ?? this.lastHeardAt;
    this.lastRevision = other.lastRevision;
  }
}
