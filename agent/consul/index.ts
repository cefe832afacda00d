/**
 * The agent's Consul-compatible HTTP API: Consul tooling (Prometheus's consul_sd_configs, the
 * `consul` client, consul-template) reads the federated catalog, sites as datacenters, and
 * registers Meridian services through it.
 */
export { startConsulApi, BODY_LIMIT, DEFAULT_MAX_BLOCKING, type ConsulApi, type ConsulApiOptions } from './server.js';
export type { ConsulAccess } from './auth.js';
export { DEFAULT_WAIT_MS, MAX_WAIT_MS } from './blocking.js';
export { parseFilter, MAX_FILTER_LENGTH } from './filter.js';
