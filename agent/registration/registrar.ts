import {
  LeaseRegistrar,
  instanceIdOf,
  parseServiceDefinition,
  toInstance,
  type HealthCheck,
  type NodeContext,
  type ServiceDefinition,
  type ServiceInstance,
  type SiteCatalogWriter,
} from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { startHealthCheck, type HealthCheckHandle } from '../health/index.js';
import { assertOwnInstance, assertServiceAllowed, withDefaultCheck, type RegistrationPolicy } from './policy.js';
import type { LocalRegistration, LocalRegistry, RegistrationSource } from './types.js';

interface Registration {
  instance: ServiceInstance;
  readonly source: RegistrationSource;
  /** As registered: with the default TCP check when the definition had none. */
  readonly definition: ServiceDefinition;
  readonly check: HealthCheckHandle;
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
  /** Which services may register, and which instanceIds other nodes hold (default: anything goes). */
  readonly policy?: RegistrationPolicy;
}

function describe(source: RegistrationSource): string {
  return source.kind === 'file' ? source.path : 'agent API';
}

/** Refuses to remove a registration through another source than the one that made it: nothing would undo it. */
function assertRemovableBy(registration: Registration, requester: RegistrationSource | undefined): void {
  if (requester === undefined || describe(requester) === describe(registration.source)) return;
  const id = registration.instance.instanceId;
  const message =
    registration.source.kind === 'file'
      ? `instance ${id} is defined in ${registration.source.path}: remove it from that file instead (the API deletes only what the API registered)`
      : `instance ${id} was registered through the agent API: delete it there`;
  throw new MeridianError('MERIDIAN_ERR_CONFLICT', message);
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
  /** Registrations and deregistrations run one at a time: a registration awaits its first probe. */
  #serial: Promise<unknown> = Promise.resolve();
  #stopped = false;

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

  /**
   * Validates and registers a definition (see LocalRegistry.register). Refuses a service outside
   * `allowedServices`, another node's instanceId, and an instanceId another source registered.
   * An instance without a check gets a TCP check on its first port, and is written once that
   * check's first probe has decided (within its 2 s timeout).
   */
  register(input: unknown, source: RegistrationSource): Promise<ServiceInstance> {
    return this.#oneAtATime(() => this.#register(input, source));
  }

  /**
   * Removes a registration; false when there is none. With `requester`, refuses (MERIDIAN_ERR_CONFLICT)
   * to remove what another source registered: the API cannot delete what a definitions file defines.
   */
  deregister(instanceId: string, requester?: RegistrationSource): Promise<boolean> {
    return this.#oneAtATime(async () => {
      const registration = this.#registrations.get(instanceId);
      if (registration === undefined) return false;
      assertRemovableBy(registration, requester);
      registration.check.stop();
      this.#registrations.delete(instanceId);
      this.#options.onChange?.();
      await this.#lease.remove(instanceId);
      return true;
    });
  }

  list(): readonly LocalRegistration[] {
    return [...this.#registrations.values()].map(({ instance, source, definition }) => ({ instance, source, definition }));
  }

  /** Records a pass of the instance's ttl check; rejects (never throws) for an unknown instance or another check type. */
  passTtl(instanceId: string): Promise<void> {
    return this.#onTtl(instanceId, (check) => check.passTtl());
  }

  /** Records a failure of the instance's ttl check (critical until its next pass); rejects like passTtl. */
  failTtl(instanceId: string, reason: string): Promise<void> {
    return this.#onTtl(instanceId, (check) => check.failTtl(reason));
  }

  #onTtl(instanceId: string, act: (check: HealthCheckHandle) => void): Promise<void> {
    const registration = this.#registrations.get(instanceId);
    if (registration === undefined) return Promise.reject(new MeridianError('MERIDIAN_ERR_NOT_FOUND', `instance ${instanceId} is not registered on this node`));
    try {
      act(registration.check);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new MeridianError('MERIDIAN_ERR_INTERNAL', String(error)));
    }
  }

  /** Stops checks and heartbeats; a graceful stop also deregisters everything at once. */
  async stop(options: { deregister: boolean }): Promise<void> {
    this.#stopped = true;
    for (const registration of this.#registrations.values()) registration.check.stop();
    if (options.deregister && this.#registrations.size > 0) {
      this.#registrations.clear();
      this.#options.onChange?.();
    }
    await this.#lease.stop(options);
  }

  async #register(input: unknown, source: RegistrationSource): Promise<ServiceInstance> {
    const given = parseServiceDefinition(input, describe(source));
    const { node } = this.#options;
    assertServiceAllowed(this.#options.policy ?? {}, given.service, node.node);
    const instanceId = instanceIdOf(given, node.node);
    const existing = this.#registrations.get(instanceId);
    if (existing !== undefined && describe(existing.source) !== describe(source)) {
      throw new MeridianError('MERIDIAN_ERR_CONFLICT', `instanceId ${instanceId}: already registered by ${describe(existing.source)}`);
    }
    assertOwnInstance(this.#options.policy ?? {}, instanceId, node);
    const definition = withDefaultCheck(given);
    const stamped = toInstance(definition, node, { leaseTtlMs: this.leaseTtlMs, ...(existing ? { registeredAt: existing.instance.registeredAt } : {}) });
    const instance = this.#options.meshPort === undefined ? stamped : { ...stamped, meshPort: this.#options.meshPort };
    const check = this.#startCheck(instanceId, definition.check, instance);
    // The implicit check's probe is bounded (2 s) and usually instant: its answer, not 'unknown', is what the catalog first hears.
    if (given.check === undefined) await check.runNow();
    if (this.#stopped) {
      check.stop();
      throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `instance ${instanceId}: the agent is stopping`);
    }
    existing?.check.stop();
    // A re-registration keeps the last decided health until the new check decides again.
    const health = check.state !== 'unknown' ? check.state : (existing?.instance.health ?? instance.health);
    const registration: Registration = { instance: { ...instance, health }, source, definition, check };
    this.#registrations.set(instanceId, registration);
    this.#options.onChange?.();
    await this.#lease.put(registration.instance);
    return registration.instance;
  }

  #oneAtATime<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(task, task);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  #startCheck(instanceId: string, check: HealthCheck, instance: ServiceInstance): HealthCheckHandle {
    const handle: HealthCheckHandle = startHealthCheck({
      check,
      address: instance.address,
      ports: instance.ports,
      onChange: (state) => {
        const registration = this.#registrations.get(instanceId);
        // Flips of a check being replaced (or not yet in place) are not this registration's.
        if (registration?.check !== handle) return;
        registration.instance = { ...registration.instance, health: state, updatedAt: new Date().toISOString() };
        void this.#lease.put(registration.instance);
      },
    });
    return handle;
  }
}
