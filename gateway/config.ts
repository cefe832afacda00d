import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HEARTBEAT, DEFAULT_STATUS_INTERVAL, DurationSchema, LocalityFields, NameSchema, loadJsonConfig } from '../shared/config/index.js';

/**
 * The gateway process's configuration file (JSON). Defaults: listen 127.0.0.1:15440, heartbeat 2s,
 * status report every 2s.
 * `advertise` is the address other sites dial (default: the listen host).
 */
export const GatewayConfigSchema = Type.Object(
  {
    ...LocalityFields,
    name: NameSchema,
    listen: Type.Object({ host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535, default: 15440 }) }, { default: {}, additionalProperties: false }),
    advertise: Type.Optional(Type.String({ minLength: 1 })),
    keyFile: Type.String({ minLength: 1 }),
    certFile: Type.String({ minLength: 1 }),
    nats: Type.Object(
      { url: Type.String({ pattern: '^(nats|tls)://' }), passwordFile: Type.String({ minLength: 1 }), bundleFile: Type.String({ minLength: 1 }), trustDomain: Type.String({ minLength: 1 }) },
      { additionalProperties: false },
    ),
    heartbeat: Type.String({ ...DurationSchema, default: DEFAULT_HEARTBEAT }),
    /** How often the gateway reports its tunnels to the site's control service (default 2s). */
    statusInterval: Type.Optional(Type.String({ ...DurationSchema, default: DEFAULT_STATUS_INTERVAL })),
    /** Prometheus metrics at http://<host>:<port>/metrics (host default 127.0.0.1); absent: not served. */
    metrics: Type.Optional(
      Type.Object({ host: Type.String({ default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type GatewayConfig = Static<typeof GatewayConfigSchema>;

/** Reads and validates a gateway config file; errors name the file and every bad field. */
export function loadGatewayConfig(path: string): GatewayConfig {
  return loadJsonConfig(GatewayConfigSchema, path);
}
