import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HEARTBEAT, DEFAULT_MESH_SESSION_AGE, DEFAULT_STATUS_INTERVAL, DurationSchema, LocalityFields, NameSchema, loadJsonConfig, parseDuration } from '../shared/config/index.js';
import { MeridianError } from '../shared/errors/index.js';

const Name = NameSchema;
const Duration = DurationSchema;

/** Where the agent keeps its snapshot, identities and API token unless `dataDir` says otherwise. */
export const DEFAULT_AGENT_DATA_DIR = 'meridian-data/agent';
/** The agent API's address unless `api` says otherwise. */
export const DEFAULT_AGENT_API = Object.freeze({ host: '127.0.0.1', port: 8510 });
export const DEFAULT_AGENT_API_URL = `http://${DEFAULT_AGENT_API.host}:${DEFAULT_AGENT_API.port}`;
/** The DNS server's settings unless the `dns` section says otherwise (the section itself is opt-in). */
export const DEFAULT_AGENT_DNS = Object.freeze({ host: '127.0.0.1', port: 8600, ttl: '5s', maxQueriesPerSecond: 2000, maxTcpConnections: 64, tcpTimeout: '5s' });
/** The Consul-compatible API's address unless `consulApi` says otherwise (Consul's own default port). */
export const DEFAULT_CONSUL_API = Object.freeze({ host: '127.0.0.1', port: 8500 });
/** The API token's file name in the data dir, unless `api.tokenFile` names another file. */
const API_TOKEN_FILE_NAME = 'api-token';
/** The token file of an agent with the default data dir: where `meridian services` looks unless told. */
export const DEFAULT_AGENT_API_TOKEN_FILE = join(DEFAULT_AGENT_DATA_DIR, API_TOKEN_FILE_NAME);

/** The OTLP/HTTP encodings the agent exports traces in (the OTEL_EXPORTER_OTLP_PROTOCOL values for HTTP). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * Tracing defaults (the `tracing` section's): every trace recorded, the OpenTelemetry SDK's batch
 * bounds, 10s export bound, and protobuf encoding (the default of OTLP exporters and what every
 * OTLP/HTTP receiver takes; JSON support is optional in the specification).
 */
export const DEFAULT_TRACING = Object.freeze({
  protocol: 'http/protobuf',
  sampleRatio: 1,
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelay: '5s',
  exportTimeout: '10s',
});

/** Global rate limit defaults (the `rateLimits` section's): a Redis call per request, 10 tokens per batch, 50ms per call. */
export const DEFAULT_RATE_LIMITS = Object.freeze({ mode: 'script', batch: 10, timeout: '50ms' });

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
    /**
     * DNS on UDP and TCP (absent: none): `<svc>.mesh` → the outbound HTTP listener's address,
     * `<svc>.service[.<site>].consul` → A and SRV records of the service's usable instances.
     */
    dns: Type.Optional(
      Type.Object(
        {
          host: Type.String({ default: DEFAULT_AGENT_DNS.host }),
          port: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_AGENT_DNS.port }),
          /** TTL of every record and of negative answers, in whole seconds (rounded down). */
          ttl: Type.String({ ...Duration, default: DEFAULT_AGENT_DNS.ttl }),
          /** Queries answered per second, UDP and TCP together; past it UDP queries are dropped and TCP connections closed. */
          maxQueriesPerSecond: Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_AGENT_DNS.maxQueriesPerSecond }),
          maxTcpConnections: Type.Integer({ minimum: 1, maximum: 10_000, default: DEFAULT_AGENT_DNS.maxTcpConnections }),
          /** An idle TCP connection closes after this, and a query must arrive whole within it. */
          tcpTimeout: Type.String({ ...Duration, default: DEFAULT_AGENT_DNS.tcpTimeout }),
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
    /** OpenTelemetry traces of proxied HTTP requests, exported over OTLP/HTTP (protobuf or JSON). Absent: no tracing, no per-request cost. */
    tracing: Type.Optional(
      Type.Object(
        {
          /** The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
          otlpEndpoint: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
          /** The export's encoding: 'http/protobuf' (default) or 'http/json'. */
          protocol: Type.Optional(Type.Union(OTLP_PROTOCOLS.map((protocol) => Type.Literal(protocol)), { default: DEFAULT_TRACING.protocol })),
          /** Fraction of traces recorded, decided by trace id (the same at every agent); a caller's unsampled traceparent is never recorded. */
          sampleRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: DEFAULT_TRACING.sampleRatio })),
          /** Finished spans held for export; past it new spans are dropped (and counted). */
          maxQueueSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_TRACING.maxQueueSize })),
          /** Spans per export request, at most maxQueueSize (default 512, or maxQueueSize when smaller). */
          maxExportBatchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          /** Longest wait before a partial batch is exported. */
          scheduledDelay: Type.Optional(Type.String({ ...Duration, default: DEFAULT_TRACING.scheduledDelay })),
          /** Bound of one export, retries included; also bounds the final flush at stop. */
          exportTimeout: Type.Optional(Type.String({ ...Duration, default: DEFAULT_TRACING.exportTimeout })),
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
    /** Global rate limits (RateLimit documents with `global`): the federation's one Redis. Absent: global buckets apply their `onRedisLoss`. */
    rateLimits: Type.Optional(
      Type.Object(
        {
          redis: Type.Object(
            {
              /** `rediss://host:port` (TLS) or `redis://host:port`; an optional `/<db>`. */
              url: Type.String({ pattern: '^rediss?://[^\\s]+$', maxLength: 2048 }),
              username: Type.Optional(Type.String({ minLength: 1 })),
              /** File holding the Redis password (AUTH). */
              passwordFile: Type.Optional(Type.String({ minLength: 1 })),
              /** PEM CA bundle the Redis server certificate must chain to (default: the system's). */
              caFile: Type.Optional(Type.String({ minLength: 1 })),
            },
            { additionalProperties: false },
          ),
          /** 'script' (default): one atomic Lua call per request; 'batch': take `batch` tokens at once and spend them locally. */
          mode: Type.Optional(Type.Union([Type.Literal('script'), Type.Literal('batch')], { description: "'script' or 'batch'", default: DEFAULT_RATE_LIMITS.mode })),
          /** Tokens taken per Redis call in 'batch' mode. */
          batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: DEFAULT_RATE_LIMITS.batch })),
          /** Bound of one Redis call; past it the limit's `onRedisLoss` decides. */
          timeout: Type.Optional(Type.String({ ...Duration, default: DEFAULT_RATE_LIMITS.timeout })),
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

/** The `tracing` section resolved: defaults applied, durations in milliseconds. */
export interface TracingSettings {
  readonly otlpEndpoint: string;
  readonly protocol: OtlpProtocol;
  readonly sampleRatio: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
  readonly exportTimeoutMs: number;
}

/** The tracing settings, or undefined when the config has no `tracing` section; errors name the field. */
export function tracingSettings(config: AgentConfig): TracingSettings | undefined {
  const tracing = config.tracing;
  if (tracing === undefined) return undefined;
  const maxQueueSize = tracing.maxQueueSize ?? DEFAULT_TRACING.maxQueueSize;
  const maxExportBatchSize = tracing.maxExportBatchSize ?? Math.min(DEFAULT_TRACING.maxExportBatchSize, maxQueueSize);
  if (maxExportBatchSize > maxQueueSize) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `/tracing/maxExportBatchSize (${maxExportBatchSize}) must not exceed /tracing/maxQueueSize (${maxQueueSize})`);
  }
  let url: URL;
  try {
    url = new URL(tracing.otlpEndpoint);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `/tracing/otlpEndpoint is not a URL: ${tracing.otlpEndpoint}`, { cause });
  }
  return {
    otlpEndpoint: url.href,
    protocol: tracing.protocol ?? DEFAULT_TRACING.protocol,
    sampleRatio: tracing.sampleRatio ?? DEFAULT_TRACING.sampleRatio,
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMs: parseDuration(tracing.scheduledDelay ?? DEFAULT_TRACING.scheduledDelay, '/tracing/scheduledDelay'),
    exportTimeoutMs: parseDuration(tracing.exportTimeout ?? DEFAULT_TRACING.exportTimeout, '/tracing/exportTimeout'),
  };
}

/** The `rateLimits` section resolved: defaults applied, the timeout in milliseconds. */
export interface RateLimitSettings {
  readonly redis: { readonly url: string; readonly username?: string; readonly passwordFile?: string; readonly caFile?: string };
  readonly mode: 'script' | 'batch';
  readonly batch: number;
  readonly timeoutMs: number;
}

/** The global rate limit settings, or undefined when the config has no `rateLimits` section. */
export function rateLimitSettings(config: AgentConfig): RateLimitSettings | undefined {
  const section = config.rateLimits;
  if (section === undefined) return undefined;
  return {
    redis: section.redis,
    mode: section.mode ?? 'script',
    batch: section.batch ?? DEFAULT_RATE_LIMITS.batch,
    timeoutMs: parseDuration(section.timeout ?? DEFAULT_RATE_LIMITS.timeout, '/rateLimits/timeout'),
  };
}
