import { Type, type Static } from '@sinclair/typebox';
import { NameSchema } from '../config/index.js';

/**
 * Policy documents, Kubernetes-like (`kind`, `metadata.name`, `spec`). Every object is closed
 * (`additionalProperties: false`) so a misspelt field is a violation, not a silently ignored rule.
 */
const closed = { additionalProperties: false } as const;

const Metadata = Type.Object({ name: NameSchema, description: Type.Optional(Type.String()) }, closed);

/** A SPIFFE ID pattern: exact segments, `*` for one whole segment, a final `**` for any rest (checked in checks.ts). */
const IdentityPattern = Type.String({ minLength: 1, maxLength: 2048, description: 'SPIFFE ID pattern' });

const HTTP_TOKEN = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

/** `{ exact }` or `{ prefix }` (exactly one: checked in checks.ts, so a schema error names the bad field itself). */
const PathMatch = Type.Object({ exact: Type.Optional(Type.String({ minLength: 1 })), prefix: Type.Optional(Type.String({ minLength: 1 })) }, closed);

/** `{ name, exact }` or `{ name, present: true }` (exactly one of the two). */
const HeaderMatch = Type.Object({ name: Type.String({ pattern: HTTP_TOKEN }), exact: Type.Optional(Type.String()), present: Type.Optional(Type.Literal(true)) }, closed);

/** HTTP conditions; a rule without `to` matches every request and every TCP connection. */
const Operation = Type.Object(
  {
    methods: Type.Optional(Type.Array(Type.String({ pattern: HTTP_TOKEN }), { minItems: 1 })),
    paths: Type.Optional(Type.Array(PathMatch, { minItems: 1 })),
    headers: Type.Optional(Type.Array(HeaderMatch, { minItems: 1 })),
  },
  closed,
);

const Rule = Type.Object(
  {
    from: Type.Array(IdentityPattern, { minItems: 1 }),
    to: Type.Optional(Type.Array(Operation, { minItems: 1 })),
  },
  closed,
);

export const AuthorizationSchema = Type.Object(
  {
    kind: Type.Literal('Authorization'),
    metadata: Metadata,
    spec: Type.Object(
      {
        action: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { description: "'allow' or 'deny'" }),
        /** The destination service, or `*` for every service of the federation. */
        service: Type.Union([NameSchema, Type.Literal('*')], { description: "a service name or '*'" }),
        rules: Type.Array(Rule, { minItems: 1 }),
      },
      closed,
    ),
  },
  closed,
);

/** RFC 3339 with a zone, e.g. 2026-12-31T00:00:00Z (a YAML string: quote it or not, the core schema keeps it a string). */
const Timestamp = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$', description: 'RFC 3339 timestamp' });

/** `{ identity, notAfter }` or `{ serial, notAfter }` (exactly one of identity and serial). */
const RevocationEntry = Type.Object(
  {
    identity: Type.Optional(Type.String({ minLength: 1 })),
    serial: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{1,40}$|^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){0,19}$', description: 'hex serial' })),
    notAfter: Timestamp,
    reason: Type.Optional(Type.String()),
  },
  closed,
);

export const RevocationSchema = Type.Object(
  { kind: Type.Literal('Revocation'), metadata: Metadata, spec: Type.Object({ entries: Type.Array(RevocationEntry) }, closed) },
  closed,
);

const MtlsMode = Type.Union([Type.Literal('strict'), Type.Literal('permissive')], { description: "'strict' or 'permissive'" });

export const PolicyDefaultsSchema = Type.Object(
  {
    kind: Type.Literal('PolicyDefaults'),
    metadata: Metadata,
    spec: Type.Object(
      {
        defaultAction: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { default: 'deny', description: "'allow' or 'deny'" }),
        mtls: Type.Object(
          { mode: Type.Optional(MtlsMode), services: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' }), MtlsMode)) },
          { ...closed, default: {} },
        ),
      },
      closed,
    ),
  },
  closed,
);

/** A duration of a rate (`1s`, `1m`...), checked in checks.ts to be at least 1 ms. */
const RatePeriod = Type.String({ pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)$', description: 'e.g. 1s, 1m' });

/** What one bucket counts: everything the limit matches ('service'), or each caller identity apart ('caller'). */
const RateKey = Type.Union([Type.Literal('service'), Type.Literal('caller')], { description: "'service' or 'caller'" });

/** A token bucket at each destination instance (agent): `rate` tokens per `per`, holding at most `burst` (default `rate`). */
const LocalLimit = Type.Object(
  {
    rate: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
    per: RatePeriod,
    burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
    by: Type.Optional(RateKey),
  },
  closed,
);

/** A token bucket shared by every instance of every site through the federation's Redis. */
const GlobalLimit = Type.Object(
  {
    rate: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
    per: RatePeriod,
    burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
    by: Type.Optional(RateKey),
    /** While Redis is unreachable: 'open' admits (local buckets still apply), 'closed' refuses with 429. */
    onRedisLoss: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')], { description: "'open' or 'closed'" })),
  },
  closed,
);

/** Which requests a limit counts: every listed condition must hold (absent: all requests to the service). */
const RateMatch = Type.Object(
  {
    methods: Type.Optional(Type.Array(Type.String({ pattern: HTTP_TOKEN }), { minItems: 1 })),
    paths: Type.Optional(Type.Array(PathMatch, { minItems: 1 })),
    from: Type.Optional(Type.Array(IdentityPattern, { minItems: 1 })),
  },
  closed,
);

export const RateLimitSchema = Type.Object(
  {
    kind: Type.Literal('RateLimit'),
    metadata: Metadata,
    spec: Type.Object(
      {
        service: NameSchema,
        match: Type.Optional(RateMatch),
        local: Type.Optional(LocalLimit),
        global: Type.Optional(GlobalLimit),
      },
      closed,
    ),
  },
  closed,
);

/** The kinds a policy set holds, by their `kind`. */
export const KIND_SCHEMAS = { Authorization: AuthorizationSchema, Revocation: RevocationSchema, PolicyDefaults: PolicyDefaultsSchema, RateLimit: RateLimitSchema } as const;
export type PolicyKind = keyof typeof KIND_SCHEMAS;

export type AuthorizationDocument = Static<typeof AuthorizationSchema>;
export type RevocationDocument = Static<typeof RevocationSchema>;
export type PolicyDefaultsDocument = Static<typeof PolicyDefaultsSchema>;
export type RateLimitDocument = Static<typeof RateLimitSchema>;
export type AuthorizationRule = Static<typeof Rule>;
export type Operation = Static<typeof Operation>;
export type PathMatch = Static<typeof PathMatch>;
export type HeaderMatch = Static<typeof HeaderMatch>;
