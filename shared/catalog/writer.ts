import type { KV } from '@nats-io/kv';
import { MeridianError } from '../errors/index.js';
import { explainBucketFailure } from './jetstream-checks.js';
import { bucketName, instanceKvKey, leaseKey, type NodeLease } from './layout.js';
import type { ServiceInstance } from './types.js';

/**
 * Writes one node's entries into its own site's bucket. Writes never leave the site's cluster, so
 * registration keeps working while the site is cut off from the others.
 */
export class SiteCatalogWriter {
  constructor(
    private readonly kv: KV,
    readonly site: string,
  ) {}

  async put(instance: ServiceInstance): Promise<void> {
    this.#assertOwnSite(instance.site, `instance ${instance.instanceId}`);
    await this.#write(() => this.kv.put(instanceKvKey(instance.service, instance.instanceId), JSON.stringify(instance)));
  }

  async remove(service: string, instanceId: string): Promise<void> {
    await this.#write(() => this.kv.delete(instanceKvKey(service, instanceId)));
  }

  readonly #leaseRevisions = new Map<string, number>();

  /**
   * Renews a node's lease; its instances stay in the catalog while renewals keep coming. Returns
   * false when the lease had been taken away meanwhile (a reaper judged the node dead, e.g. after
   * a long stall): the caller must then write its instances again, since they were reaped too.
   */
  async renewLease(node: string, ttlMs: number): Promise<boolean> {
    const lease = JSON.stringify({ node, ttlMs, renewedAt: new Date().toISOString() } satisfies NodeLease);
    const previous = this.#leaseRevisions.get(node);
    if (previous !== undefined) {
      try {
        this.#leaseRevisions.set(node, await this.kv.update(leaseKey(node), lease, previous));
        return true;
      } catch {
        // Not at our last revision: reaped (or rewritten); start over below.
      }
    }
    await this.#write(async () => this.#leaseRevisions.set(node, await this.kv.put(leaseKey(node), lease)));
    return previous === undefined;
  }

  async removeLease(node: string): Promise<void> {
    this.#leaseRevisions.delete(node);
    await this.#write(() => this.kv.delete(leaseKey(node)));
  }

  /** Deletes `key` only if it is still at `revision`: several reapers may race on one entry. */
  async removeIfUnchanged(key: string, revision: number): Promise<boolean> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
      return true;
    } catch {
      return false;
    }
  }

  #assertOwnSite(site: string, what: string): void {
    if (site !== this.site) {
      throw new MeridianError('MERIDIAN_ERR_SITE_SCOPE', `${what} belongs to site ${site}; this writer writes only site ${this.site}`);
    }
  }

  async #write(operation: () => Promise<unknown>): Promise<void> {
    try {
      await operation();
    } catch (cause) {
      // "jetstream is not enabled" is what nats.js says of a deleted bucket too: say which it is.
      const explained = await explainBucketFailure(bucketName(this.site), cause as Error, () => this.kv.status());
      const code = explained instanceof MeridianError ? explained.code : 'MERIDIAN_ERR_CATALOG_UNAVAILABLE';
      throw new MeridianError(code, `catalog write to site ${this.site} failed: ${explained.message}`, { cause });
    }
  }
}
