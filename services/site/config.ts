import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_PKI_DIR, DurationSchema, NameSchema, PlatformSchema, loadJsonConfig, parseConfig } from '../../shared/config/index.js';

/** Where the status API's bearer token lives unless configured: created (0600) on first start. */
export const DEFAULT_STATUS_TOKEN_FILE = 'meridian-data/status-token';

/**
 * A site control service's configuration (`meridian site serve --config site.json`, or the same
 * fields from flags). Defaults: `pkiDir` meridian-data/pki; the status API, when `status` is
 * given, binds 127.0.0.1 with its token in meridian-data/status-token, plain HTTP unless `tls`;
 * the join endpoint, when `join` is given, binds 127.0.0.1 and issues agent certificates for 24h.
 */
export const SiteConfigSchema = Type.Object(
  {
    site: NameSchema,
    /** The site's region and platform, shown in the federation status. */
    region: Type.Optional(Type.String({ minLength: 1 })),
    platform: Type.Optional(PlatformSchema),
    /** The PKI directory holding this site's CA (its key signs workload certificates). */
    pkiDir: Type.String({ minLength: 1, default: DEFAULT_PKI_DIR }),
    nats: Type.Object({ url: Type.String({ pattern: '^(nats|tls)://' }) }, { additionalProperties: false }),
    /**
     * The site's nats-server certificate, kept by the control service: re-issued at half-life and
     * when the site CA or bundle changes, written atomically, then nats-server (its `pid_file`) gets
     * SIGHUP to reload it. `caFile` (nats-server's ca_file) is rewritten with the bundle when given.
     */
    natsServer: Type.Optional(
      Type.Object(
        {
          certFile: Type.String({ minLength: 1 }),
          keyFile: Type.String({ minLength: 1 }),
          pidFile: Type.String({ minLength: 1 }),
          caFile: Type.Optional(Type.String({ minLength: 1 })),
          certificateTtl: Type.Optional(DurationSchema),
        },
        { additionalProperties: false },
      ),
    ),
    /** Lifetimes of the certificates the control service issues (each renewed at half-life plus jitter); default 24h both. */
    certificates: Type.Optional(
      Type.Object(
        {
          /** Workload (svc) certificates it signs for the agents' services. */
          workloadTtl: Type.Optional(DurationSchema),
          /** Agent, gateway and its own control certificates, on each renewal. */
          roleTtl: Type.Optional(DurationSchema),
        },
        { additionalProperties: false },
      ),
    ),
    /** The federation status API; absent: the control service reports and follows, but serves nothing. */
    status: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, default: '127.0.0.1' }),
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
          tokenFile: Type.String({ minLength: 1, default: DEFAULT_STATUS_TOKEN_FILE }),
          /** HTTPS (TLS 1.3) with the control service's identity; trust-domain client certificates are accepted too. */
          tls: Type.Boolean({ default: false }),
        },
        { additionalProperties: false },
      ),
    ),
    /** The join endpoint (HTTPS, TLS 1.3, control identity): nodes trade a `meridian token create` token for their credentials. */
    join: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, default: '127.0.0.1' }),
          port: Type.Integer({ minimum: 0, maximum: 65535 }),
          /** Lifetime of the agent certificates issued at join (renewed by the agents). */
          agentTtl: Type.Optional(DurationSchema),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SiteConfig = Static<typeof SiteConfigSchema>;

/** Validates a site config from any source (`source` names it in errors: a file, or the flags). */
export function parseSiteConfig(input: unknown, source: string): SiteConfig {
  return parseConfig(SiteConfigSchema, input, source);
}

/** Reads and validates a site config file; errors name the file and every bad field. */
export function loadSiteConfig(path: string): SiteConfig {
  return loadJsonConfig(SiteConfigSchema, path);
}
