/**
 * Defaults that more than one role or command shares, in one place so the agent, the gateway, the
 * control service, the CLI and the README cannot drift apart. Role-specific defaults live in each
 * role's `config.ts`.
 */

/** Where the PKI (root, site CAs, issued certificates) lives unless `--dir` says otherwise. */
export const DEFAULT_PKI_DIR = 'meridian-data/pki';

/** How often agents, gateways and control services write their status report. */
export const DEFAULT_STATUS_INTERVAL = '2s';
export const DEFAULT_STATUS_INTERVAL_MS = 2_000;

/** How often a node renews its catalog lease. */
export const DEFAULT_HEARTBEAT = '2s';

/** A stopping agent's proxies finish in-flight requests for this long before cutting them. */
export const DEFAULT_DRAIN_MS = 10_000;

/**
 * Age after which an agent rotates a pooled mesh session. A gateway's drain bound must exceed it,
 * so every stream has moved to a successor before a draining gateway cuts what is left.
 */
export const DEFAULT_MESH_SESSION_AGE = '10s';
export const DEFAULT_MESH_SESSION_AGE_MS = 10_000;
