import { Counter, type Registry } from 'prom-client';

/** Counts the inbound's policy refusals by local service and the rule that refused them. */
export interface DenialCounter {
  count(service: string, rule: string): void;
}

/**
 * `meridian_policy_denials_total{service, rule}` on `registry`. The label values are bounded by
 * the node's services and the rules of the policy set (plus `default`, `path-normalization`,
 * `revocation`), never by anything a caller chooses. Children are bound once per pair.
 */
export function denialCounter(registry: Registry): DenialCounter {
  const counter = new Counter({
    name: 'meridian_policy_denials_total',
    help: 'Calls refused at this node by the policy set, by destination service and the rule that refused them (default: no rule allowed it; path-normalization: a request target refused before any rule; revocation: a revoked caller certificate).',
    labelNames: ['service', 'rule'],
    registers: [registry],
  });
  const bound = new Map<string, Counter.Internal>();
  return {
    count(service, rule) {
      const key = `${service}\u0000${rule}`;
      let child = bound.get(key);
      if (child === undefined) bound.set(key, (child = counter.labels(service, rule)));
      child.inc();
    },
  };
}

/**
 * `meridian_rate_limited_total{service, limit}`: requests refused with 429 at this node by the
 * RateLimit documents of the policy set (their names bound the label values).
 */
export function rateLimitedCounter(registry: Registry): DenialCounter {
  const counter = new Counter({
    name: 'meridian_rate_limited_total',
    help: 'Requests refused at this node by a rate limit (429), by destination service and the RateLimit that refused them.',
    labelNames: ['service', 'limit'],
    registers: [registry],
  });
  const bound = new Map<string, Counter.Internal>();
  return {
    count(service, limit) {
      const key = `${service}\u0000${limit}`;
      let child = bound.get(key);
      if (child === undefined) bound.set(key, (child = counter.labels(service, limit)));
      child.inc();
    },
  };
}
