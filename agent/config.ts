import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HEARTBEAT, DEFAULT_MESH_SESSION_AGE, DEFAULT_STATUS_INTERVAL, DurationSchema, LocalityFields, NameSchema, loadJsonConfig, parseDuration } from '../shared/config/index.js';

const Name = NameSchema;
const Duration = DurationSchema;

/** Where the agent keeps its snapshot, identities and API token unless `dataDir` says otherwise. */
export const DEFAULT_AGENT_DATA_DIR = 'meridian-data/agent';
/** The agent API's address unless `api` says otherwise. */
export const DEFAULT_AGENT_API = Object.freeze({ host: '127.0.0.1', port: 8510 });
export const DEFAULT_AGENT_API_URL = `http://${DEFAULT_AGENT_API.host}:${DEFAULT_AGENT_API.port}`;
/** The Consul-compatible API's address unless `consulApi` says otherwise (Consul's own default port). */
export const DEFAULT_CONSUL_API = Object.freeze({ host: '127.0.0.1', port: 8500 });
/** The API token's file name in the data dir, unless `api.tokenFile` names another file. */
const API_TOKEN_FILE_NAME = 'api-token';
/** The token file of an agent with the default data dir: where `meridian services` looks unless told. */
export const DEFAULT_AGENT_API_TOKEN_FILE = join(DEFAULT_AGENT_DATA_DIR, API_TOKEN_FILE_NAME);

/**
 * The agent's configuration file (JSON). Defaults: api on 127.0.0.1:8510 with its token in
 * `<dataDir>/api-token` (created 0600 on first start), any service may register, heartbeat 2s,
 * lease TTL 3 heartbeats, staleness after 3 heartbeats, data dir ./meridian-data/agent, status
 * report every 2s, no access log.
 */
export const AgentConfigSchema = Type.Object(
  {
    ...LocalityFields,
    node: Name,
    nats: Type.Object(
      {
        url: Type.String({ pattern: '^(nats|tls)://' }),
        /** File holding the site's NATS password (handed out when the agent joins). */
        passwordFile: Type.String({ minLength: 1 }),
        /** The agent's key and certificate chain, and the trust bundle. */
        keyFile: Type.String({ minLength: 1 }),
        certFile: Type.String({ minLength: 1 }),
        bundleFile: Type.String({ minLength: 1 }),
        trustDomain: Type.String({ minLength: 1 }),
      },
      { additionalProperties: false },
    ),
    api: Type.Object(
      {
        host: Type.String({ default: DEFAULT_AGENT_API.host }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_AGENT_API.port }),
        /** The bearer token every API call but `/v1/ready` and `/openapi.json` needs (default `<dataDir>/api-token`). */
        tokenFile: Type.Optional(Type.String({ minLength: 1 })),
      },
      { default: {}, additionalProperties: false },
    ),
    /**
     * The services this node may register, from the API and from definitions files: names, or
     * patterns where `*` stands for any run of name characters (`web-*`). Absent: any service.
     */
    allowedServices: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9*][a-z0-9*-]{0,62}$' }), { maxItems: 1000 })),
    definitionsDir: Type.Optional(Type.String({ minLength: 1 })),
    /** The node's data plane: its mTLS inbound port (the mesh port stamped on its instances). Absent: catalog only. */
    mesh: Type.Optional(
      Type.Object(
        {
          host: Type.String({ default: '127.0.0.1' }),
          inboundPort: Type.Integer({ minimum: 0, maximum: 65535, default: 15443 }),
          /** Pooled mesh sessions are rotated after this; keep it below the gateways' drain bound. */
          maxSessionAge: Type.String({ ...DurationSchema, default: DEFAULT_MESH_SESSION_AGE }),
          /**
           * `%2F` and `%5C` in a request path: 'reject' (default, 400: apps disagree on whether an
           * encoded slash splits a segment, so a policy path could be bypassed) or 'keep' (forwarded
           * encoded, judged as part of their segment).
           */
          encodedSlashes: Type.Optional(Type.Union([Type.Literal('reject'), Type.Literal('keep')], { description: "'reject' (default) or 'keep'" })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Status reports (read by the site's control service), the access log and metrics. */
    telemetry: Type.Optional(
      Type.Object(
        {
          statusInterval: Type.Optional(Duration),
          /** 'off' (default), 'stdout', 'stderr' or a file path (appended to): one JSON line per request. */
          accessLog: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * A Consul-compatible HTTP API (catalog, health, agent services and checks) for Consul tooling.
     * Absent: not listening. Its ACL token is the agent API token; `anonymousReads` opens GETs.
     */
    consulApi: Type.Optional(
      Type.Object(
        {
          host: Type.String({ default: DEFAULT_CONSUL_API.host }),
          port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_CONSUL_API.port }),
          anonymousReads: Type.Boolean({ default: false }),
          maxBlockingQueries: Type.Integer({ minimum: 1, maximum: 10_000, default: 256 }),
        },
        { additionalProperties: false },
      ),
    ),
    dataDir: Type.String({ default: DEFAULT_AGENT_DATA_DIR }),
    heartbeat: Type.String({ ...Duration, default: DEFAULT_HEARTBEAT }),
    leaseTtl: Type.Optional(Duration),
    staleAfter: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;

/** Timings in milliseconds, derived from the config. */
export interface AgentTimings {
  heartbeatMs: number;
  statusIntervalMs: number;
  leaseTtlMs: number;
  staleAfterMs: number;
}

export function agentTimings(config: AgentConfig): AgentTimings {
  const heartbeatMs = parseDuration(config.heartbeat, '/heartbeat');
  return {
    heartbeatMs,
    statusIntervalMs: parseDuration(config.telemetry?.statusInterval ?? DEFAULT_STATUS_INTERVAL, '/telemetry/statusInterval'),
    leaseTtlMs: config.leaseTtl === undefined ? heartbeatMs * 3 : parseDuration(config.leaseTtl, '/leaseTtl'),
    staleAfterMs: config.staleAfter === undefined ? heartbeatMs * 3 : parseDuration(config.staleAfter, '/staleAfter'),
  };
}

/** The agent API's token file: `api.tokenFile`, else `api-token` in the data dir. */
export function apiTokenFile(config: AgentConfig): string {
  return config.api.tokenFile ?? join(config.dataDir, API_TOKEN_FILE_NAME);
}

/** Reads and validates an agent config file; errors name the file and every bad field. */
export function loadAgentConfig(path: string): AgentConfig {
  return loadJsonConfig(AgentConfigSchema, path);
}

/**
 * Node flags the agent process runs with (the `meridian` launcher sets them): a 2 MB young
 * generation keeps resident memory near the live heap; replaying a 50 000-instance catalog
 * otherwise leaves ~30 MB of semi-space resident.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** The access log target of the config's `telemetry.accessLog`. */
export function accessLogTarget(config: AgentConfig): 'off' | 'stdout' | 'stderr' | { path: string } {
  const value = config.telemetry?.accessLog ?? 'off';
  return value === 'off' || value === 'stdout' || value === 'stderr' ? value : { path: value };
}
