import type { ServiceDefinition } from '../../shared/catalog/definition.js';
import type { ServiceInstance } from '../../shared/catalog/types.js';

/** Where a local registration came from: a definitions file or the agent's HTTP API. */
export type RegistrationSource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'api' };

/** A service this agent registered, with its origin. */
export interface LocalRegistration {
  readonly instance: ServiceInstance;
  readonly source: RegistrationSource;
  /** The validated definition it was registered from (outbound listeners live there). */
  readonly definition: ServiceDefinition;
}

/**
 * The agent's registry of its own node's services. Registering validates the definition and
 * writes it to the site's catalog; it throws a MeridianError naming the field on bad input and
 * changes nothing else.
 */
export interface LocalRegistry {
  register(definition: unknown, source: RegistrationSource): Promise<ServiceInstance>;
  /**
   * Removes this node's instance; false when there is none. With `requester`, throws
   * MERIDIAN_ERR_CONFLICT when another source registered it (a file's instance is removed from the file).
   */
  deregister(instanceId: string, requester?: RegistrationSource): Promise<boolean>;
  list(): readonly LocalRegistration[];
  /** Records a TTL check pass for an instance whose check is of type ttl. */
  passTtl(instanceId: string): Promise<void>;
  /** Records a failure of an instance's ttl check: critical until its next pass. */
  failTtl(instanceId: string, reason: string): Promise<void>;
}

export type { ServiceDefinition };
