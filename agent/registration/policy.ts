import type { HealthCheck, ServiceDefinition } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';

/** What a node lets register on it: the agent config's `allowedServices`, and who holds instanceIds in the site's catalog. */
export interface RegistrationPolicy {
  /** Names or `*` patterns; undefined lets any service register. */
  readonly allowedServices?: readonly string[];
  /** The node whose instance holds `instanceId` in the site's catalog, if any. */
  readonly catalogOwner?: (instanceId: string) => string | undefined;
}

function patternRegExp(pattern: string): RegExp {
  // Patterns hold only name characters and `*` (the config schema says so): nothing else to escape.
  return new RegExp(`^${pattern.replaceAll('*', '[a-z0-9-]*')}$`);
}

/** Whether `service` matches one of `patterns`, where `*` matches any run of name characters. */
export function serviceAllowed(patterns: readonly string[], service: string): boolean {
  return patterns.some((pattern) => patternRegExp(pattern).test(service));
}

/** Throws MERIDIAN_ERR_FORBIDDEN naming the service and the config field unless the node may register `service`. */
export function assertServiceAllowed(policy: RegistrationPolicy, service: string, node: string): void {
  const allowed = policy.allowedServices;
  if (allowed === undefined || serviceAllowed(allowed, service)) return;
  const list = allowed.length === 0 ? 'empty' : allowed.join(', ');
  throw new MeridianError('MERIDIAN_ERR_FORBIDDEN', `service "${service}" may not be registered on node ${node}: the agent config's allowedServices is ${list}`);
}

/**
 * Throws MERIDIAN_ERR_CONFLICT when another node's instance holds `instanceId` in the site's
 * catalog: writing it would take that instance over (its node, address and lease).
 */
export function assertOwnInstance(policy: RegistrationPolicy, instanceId: string, node: { site: string; node: string }): void {
  const owner = policy.catalogOwner?.(instanceId);
  if (owner === undefined || owner === node.node) return;
  throw new MeridianError(
    'MERIDIAN_ERR_CONFLICT',
    `instanceId ${instanceId}: site ${node.site}'s catalog holds it for node ${owner}; an agent registers only its own node's instances`,
  );
}

/**
 * The definition as registered: one without a check gets a TCP check on its first port (the
 * check defaults: every 10 s), so an instance nobody checks is never counted as passing for ever.
 */
export function withDefaultCheck(definition: ServiceDefinition): ServiceDefinition & { readonly check: HealthCheck } {
  const { check } = definition;
  if (check !== undefined) return { ...definition, check };
  // The schema requires at least one port; the first is the one the instanceId names too.
  const port = Object.keys(definition.ports)[0] ?? '';
  return { ...definition, check: { type: 'tcp', port } };
}
