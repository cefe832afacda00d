import { parseServiceDefinition, toInstance, type NodeContext, type ServiceDefinition, type ServiceInstance, type SiteCatalogWriter } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { startHealthCheck, type HealthCheckHandle } from '../health/index.js';
import type { LocalRegistration, LocalRegistry, RegistrationSource } from './types.js';

interface Registration {
  instance: ServiceInstance;
  readonly source: RegistrationSource;
  readonly definition: ServiceDefinition;
  readonly check: HealthCheckHandle | undefined;
}

/** Options of the {@link Registrar}. */
export interface RegistrarOptions {
  readonly node: NodeContext;
  /** How often the node's lease is renewed. */
  readonly heartbeatMs: number;
  /** How long the lease lives without renewal (default 3 heartbeats). */
  readonly leaseTtlMs?: number;
  /** The node agent's inbound mesh port, stamped on every instance so the mesh can reach it. */
  readonly meshPort?: number;
  /** Called after every registration or deregistration (the data plane follows it). */
  readonly onChange?: () => void;
  readonly onError?: (error: Error) => void;
}

function describe(source: RegistrationSource): string {
  return source.kind === 'file' ? source.path : 'agent API';
}

/**
 * This node's services in the catalog. It renews the node lease on every heartbeat, writes
 * health flips at once, and rewrites everything after NATS was unreachable, so the site's bucket
 * converges on what the node really runs.
 */
export class Registrar implements LocalRegistry {
  readonly #registrations = new Map<string, Registration>();
  readonly #options: RegistrarOptions;
  readonly leaseTtlMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #resync = true;
  #writer: SiteCatalogWriter | undefined;

  /** The mesh port stamped on this node's instances, if the node runs a data plane. */
  get meshPort(): number | undefined {
    return this.#options.meshPort;
  }

  constructor(options: RegistrarOptions) {
    this.#options = options;
    this.leaseTtlMs = options.leaseTtlMs ?? options.heartbeatMs * 3;
  }

  /**
   * Starts writing to the site's catalog: the lease now and on every heartbeat, and every
   * registration accepted so far (registrations are accepted, and checked, before NATS is reachable).
   */
  attach(writer: SiteCatalogWriter): void {
    this.#writer = writer;
    this.#resync = true;
    void this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatMs).unref();
  }

  async register(input: unknown, source: RegistrationSource): Promise<ServiceInstance> {
    const definition = parseServiceDefinition(input, describe(source));
    const previous = this.#registrations.get(definition.instanceId ?? '');
    const stamped = toInstance(definition, this.#options.node, { leaseTtlMs: this.leaseTtlMs, ...(previous ? { registeredAt: previous.instance.registeredAt } : {}) });
    const instance = this.#options.meshPort === undefined ? stamped : { ...stamped, meshPort: this.#options.meshPort };
    const existing = this.#registrations.get(instance.instanceId);
    if (existing !== undefined && describe(existing.source) !== describe(source)) {
      throw new MeridianError('MERIDIAN_ERR_CONFLICT', `instanceId ${instance.instanceId}: already registered by ${describe(existing.source)}`);
    }
    const check = definition.check === undefined ? undefined : this.#startCheck(instance.instanceId, definition.check, instance);
    existing?.check?.stop();
    // A re-registration keeps the last decided health until the new check decides again.
    const health = existing?.check !== undefined && check !== undefined ? existing.instance.health : instance.health;
    const registration: Registration = { instance: { ...instance, health }, source, definition, check };
    this.#registrations.set(instance.instanceId, registration);
    this.#options.onChange?.();
    await this.#put(registration.instance);
    return registration.instance;
  }

  async deregister(instanceId: string): Promise<boolean> {
    const registration = this.#registrations.get(instanceId);
    if (registration === undefined) return false;
    registration.check?.stop();
    this.#registrations.delete(instanceId);
    this.#options.onChange?.();
    await this.#writer?.remove(registration.instance.service, instanceId);
    return true;
  }

  list(): readonly LocalRegistration[] {
    return [...this.#registrations.values()].map(({ instance, source, definition }) => ({ instance, source, definition }));
  }

  passTtl(instanceId: string): Promise<void> {
    const registration = this.#registrations.get(instanceId);
    if (registration === undefined) throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `instance ${instanceId} is not registered on this node`);
    if (registration.check === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `instance ${instanceId} has no ttl check`);
    registration.check.passTtl();
    return Promise.resolve();
  }

  /** Stops checks and heartbeats; a graceful stop also deregisters everything at once. */
  async stop(options: { deregister: boolean }): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const registration of this.#registrations.values()) registration.check?.stop();
    if (!options.deregister) return;
    await Promise.allSettled([...this.#registrations.keys()].map((id) => this.deregister(id)));
    await this.#writer?.removeLease(this.#options.node.node).catch((error: unknown) => this.#options.onError?.(error as Error));
  }

  #startCheck(instanceId: string, check: NonNullable<ReturnType<typeof parseServiceDefinition>['check']>, instance: ServiceInstance): HealthCheckHandle {
    return startHealthCheck({
      check,
      address: instance.address,
      ports: instance.ports,
      onChange: (state) => {
        const registration = this.#registrations.get(instanceId);
        if (registration === undefined) return;
        registration.instance = { ...registration.instance, health: state, updatedAt: new Date().toISOString() };
        void this.#put(registration.instance);
      },
    });
  }

  async #put(instance: ServiceInstance): Promise<void> {
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
      for (const registration of this.#registrations.values()) await this.#put(registration.instance);
    } catch (error) {
      this.#resync = true;
      this.#options.onError?.(error as Error);
    }
  }
}
