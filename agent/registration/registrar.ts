import { LeaseRegistrar, parseServiceDefinition, toInstance, type NodeContext, type ServiceDefinition, type ServiceInstance, type SiteCatalogWriter } from '../../shared/catalog/index.js';
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
 * This node's services: validated definitions with their source and health checks, kept in the
 * catalog through the node's lease (shared/catalog's LeaseRegistrar), so health flips are written
 * at once and everything is rewritten after NATS was unreachable.
 */
export class Registrar implements LocalRegistry {
  readonly #registrations = new Map<string, Registration>();
  readonly #options: RegistrarOptions;
  readonly #lease: LeaseRegistrar;

  /** The mesh port stamped on this node's instances, if the node runs a data plane. */
  get meshPort(): number | undefined {
    return this.#options.meshPort;
  }

  constructor(options: RegistrarOptions) {
    this.#options = options;
    this.#lease = new LeaseRegistrar({
      node: options.node,
      heartbeatMs: options.heartbeatMs,
      ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
  }

  /** How long the node's lease lives without renewal. */
  get leaseTtlMs(): number {
    return this.#lease.leaseTtlMs;
  }

  /**
   * Starts writing to the site's catalog: the lease now and on every heartbeat, and every
   * registration accepted so far (registrations are accepted, and checked, before NATS is reachable).
   */
  attach(writer: SiteCatalogWriter): void {
    this.#lease.attach(writer);
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
    await this.#lease.put(registration.instance);
    return registration.instance;
  }

  async deregister(instanceId: string): Promise<boolean> {
    const registration = this.#registrations.get(instanceId);
    if (registration === undefined) return false;
    registration.check?.stop();
    this.#registrations.delete(instanceId);
    this.#options.onChange?.();
    await this.#lease.remove(instanceId);
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
    for (const registration of this.#registrations.values()) registration.check?.stop();
    if (options.deregister && this.#registrations.size > 0) {
      this.#registrations.clear();
      this.#options.onChange?.();
    }
    await this.#lease.stop(options);
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
        void this.#lease.put(registration.instance);
      },
    });
  }
}
