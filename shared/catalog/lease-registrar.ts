import type { NodeContext, ServiceInstance } from './types.js';
import type { SiteCatalogWriter } from './writer.js';

/** Options of a {@link LeaseRegistrar}. */
export interface LeaseRegistrarOptions {
  readonly node: NodeContext;
  /** How often the node's lease is renewed. */
  readonly heartbeatMs: number;
  /** How long the lease lives without renewal (default 3 heartbeats). */
  readonly leaseTtlMs?: number;
  readonly onError?: (error: Error) => void;
}

/**
 * One node's instances in its site's catalog, held by a lease. It renews the lease on every
 * heartbeat, writes changes at once, and rewrites everything after a write failed or the lease
 * was reaped under it (a stall past its TTL), so the site's bucket converges on what the node
 * really runs. Instances are accepted before NATS is reachable and written once it is. The
 * agent's registrar (definitions, health checks) and the gateway (its own catalog entry) both
 * keep their instances through it.
 */
export class LeaseRegistrar {
  readonly #instances = new Map<string, ServiceInstance>();
  readonly #options: LeaseRegistrarOptions;
  readonly leaseTtlMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #resync = true;
  #writer: SiteCatalogWriter | undefined;

  constructor(options: LeaseRegistrarOptions) {
    this.#options = options;
    this.leaseTtlMs = options.leaseTtlMs ?? options.heartbeatMs * 3;
  }

  get node(): NodeContext {
    return this.#options.node;
  }

  /** Starts writing to the site's catalog: the lease now and on every heartbeat, and every instance held so far. */
  attach(writer: SiteCatalogWriter): void {
    this.#writer = writer;
    this.#resync = true;
    void this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatMs).unref();
  }

  /** Holds `instance` (replacing one with the same id) and writes it; a failed write is retried at the next heartbeat. */
  async put(instance: ServiceInstance): Promise<void> {
    this.#instances.set(instance.instanceId, instance);
    await this.#write(instance);
  }

  /** Forgets an instance and removes it from the catalog. */
  async remove(instanceId: string): Promise<void> {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined) return;
    this.#instances.delete(instanceId);
    await this.#writer?.remove(instance.service, instanceId);
  }

  /**
   * Stops the heartbeat. With `deregister`, every instance and the lease leave the catalog at
   * once; without, they stay until the lease expires (a process that restarts rewrites them).
   */
  async stop(options: { deregister: boolean }): Promise<void> {
    clearInterval(this.#heartbeat);
    if (!options.deregister) return;
    await Promise.allSettled([...this.#instances.keys()].map((id) => this.remove(id)));
    await this.#writer?.removeLease(this.#options.node.node).catch((error: unknown) => this.#options.onError?.(error as Error));
  }

  async #write(instance: ServiceInstance): Promise<void> {
    if (this.#writer === undefined) return;
    try {
      await this.#writer.put(instance);
    } catch (error) {
      this.#resync = true;
      this.#options.onError?.(error as Error);
    }
  }

  async #beat(): Promise<void> {
    if (this.#writer === undefined) return;
    try {
      // A lease that was reaped under us (a stall past the TTL) took our instances with it: rewrite them.
      if (!(await this.#writer.renewLease(this.#options.node.node, this.leaseTtlMs))) this.#resync = true;
      if (!this.#resync) return;
      this.#resync = false;
      for (const instance of this.#instances.values()) await this.#write(instance);
    } catch (error) {
      this.#resync = true;
      this.#options.onError?.(error as Error);
    }
  }
}
