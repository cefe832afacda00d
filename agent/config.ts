import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HEARTBEAT, DEFAULT_MESH_SESSION_AGE, DEFAULT_STATUS_INTERVAL, DurationSchema, NameSchema, PlatformSchema, loadJsonConfig, parseDuration } from '../shared/config/index.js';

const Name = NameSchema;
const Duration = DurationSchema;

/**
 * The agent's configuration file (JSON). Defaults: api on 127.0.0.1:8510, heartbeat 2s, lease
 * TTL 3 heartbeats, staleness after 3 heartbeats, data dir ./meridian-data/agent, status report
 * every 2s, no access log.
 */
export const AgentConfigSchema = Type.Object(
  {
    site: Name,
    region: Type.String({ minLength: 1 }),
    zone: Type.String({ minLength: 1 }),
    platform: PlatformSchema,
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
      { host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535, default: 8510 }) },
      { default: {}, additionalProperties: false },
    ),
    definitionsDir: Type.Optional(Type.String({ minLength: 1 })),
    /** The node's data plane: its mTLS inbound port (the mesh port stamped on its instances). Absent: catalog only. */
    mesh: Type.Optional(
      Type.Object(
        {
          host: Type.String({ default: '127.0.0.1' }),
          inboundPort: Type.Integer({ minimum: 0, maximum: 65535, default: 15443 }),
          /** Pooled mesh sessions are rotated after this; keep it below the gateways' drain bound. */
          maxSessionAge: Type.String({ ...DurationSchema, default: DEFAULT_MESH_SESSION_AGE }),
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
    dataDir: Type.String({ default: 'meridian-data/agent' }),
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
