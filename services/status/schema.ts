import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The federation status document served by every control service (`GET /v1/status`). These
 * TypeBox schemas are the API's contract: the OpenAPI document is built from them and the
 * tests validate real responses against the served document.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Iso = Type.String({ format: 'date-time' });

export const ProblemSchema = Type.Object(
  {
    severity: Type.Union([Type.Literal('error'), Type.Literal('warning')], { description: 'errors make the federation unhealthy; warnings do not' }),
    site: Type.String(),
    component: Type.String({ description: 'what is wrong: site, link, catalog, agent, gateway, certificate, trust, failover, policy, policy-lag' }),
    message: Type.String(),
  },
  { $id: 'Problem' },
);

export const SiteSchema = Type.Object(
  {
    site: Type.String(),
    region: Type.String(),
    platform: Type.String(),
    reachable: Type.Boolean({ description: "the site's control service reported within 3 of its intervals; always true for the answering site" }),
    lastReportAgeMs: Nullable(Type.Number({ description: "since the site's control service last reported; 0 for the answering site, null if it never did" })),
    agents: Type.Object({ up: Type.Integer(), total: Type.Integer() }),
    gateways: Type.Object({ up: Type.Integer(), total: Type.Integer() }),
  },
  { $id: 'Site' },
);

export const LinkSchema = Type.Object(
  {
    fromSite: Type.String(),
    gateway: Type.String(),
    toSite: Type.String(),
    state: Type.Union([Type.Literal('up'), Type.Literal('connecting'), Type.Literal('down'), Type.Literal('unknown')], {
      description: "'unknown': the reporting gateway itself has not reported for 3 intervals",
    }),
    since: Iso,
    lastHeartbeat: Nullable(Iso),
    rttMs: Nullable(Type.Number()),
    streams: Type.Integer(),
    bytesIn: Type.Number(),
    bytesOut: Type.Number(),
    lastError: Nullable(Type.String()),
  },
  { $id: 'Link' },
);

export const CatalogRowSchema = Type.Object(
  {
    site: Type.String({ description: 'the site whose instances these are' }),
    services: Type.Integer(),
    instances: Type.Integer(),
    passing: Type.Integer(),
    ageMs: Nullable(Type.Number({ description: 'since anything arrived from the site, at the answering site' })),
    stale: Type.Boolean(),
    syncLag: Type.Array(Type.Object({ observer: Type.String(), lagMs: Nullable(Type.Number()), stale: Type.Boolean() }), {
      description: "the site's catalog as every other site's control service sees it",
    }),
  },
  { $id: 'CatalogRow' },
);

const PolicyVersion = Type.Integer({ minimum: 1, description: "a version of the federation's policy set (the policy stream's sequence)" });

export const PolicyRowSchema = Type.Object(
  {
    site: Type.String(),
    versions: Type.Array(Type.Object({ version: Nullable(PolicyVersion), reporters: Type.Integer() }), {
      description: "the versions the site's reporters (agents, gateways, control service) enforce, newest first, with how many enforce each; null: none published. Only reporters still reporting count, unless none of the site does (a site cut off: its last reports)",
    }),
    newest: Nullable(Type.Integer({ description: 'the newest version in the federation (any reporter enforces, holds or refused it); null while none is published' })),
    onNewest: Type.Union([Type.Literal('all'), Type.Literal('some'), Type.Literal('none')], { description: "how many of the site's reporters enforce the newest version" }),
    lagging: Type.Boolean({ description: 'not every reporter of the site enforces the newest version' }),
    laggingForMs: Nullable(Type.Number({ description: "since the newest version was applied, while the site lags; null when it does not lag or that time is not known yet" })),
    rejections: Type.Array(Type.Object({ version: PolicyVersion, reason: Type.String(), reporters: Type.Array(Type.String(), { description: 'kind/name of each reporter that refused it' }) }), {
      description: 'policy versions reporters of the site refused to enforce (newer than the one they enforce), and why',
    }),
    permissiveServices: Type.Array(Type.String(), { description: "services in mTLS permissive mode in the policy the site's control service enforces ('*': the federation-wide mode); a warning" }),
    revocations: Nullable(Type.Integer({ description: "revocation entries in force in the policy the site's control service enforces; null before it reported" })),
    refusedCalls: Type.Integer({ description: 'calls refused at agents (authorization, misdirected) and streams refused at gateways, since they started' }),
  },
  { $id: 'PolicyRow' },
);

export const CertificateRowSchema = Type.Object(
  {
    site: Type.String(),
    role: Type.Union([Type.Literal('site-ca'), Type.Literal('gateway'), Type.Literal('agent'), Type.Literal('workload')]),
    identity: Type.String({ description: 'the soonest-expiring certificate of this role at the site' }),
    notAfter: Iso,
    expiresInMs: Type.Number(),
    expired: Type.Boolean({ description: 'true: that certificate has expired; its process could not renew it (agents: rejoin with a token; gateways: re-issue; control: check the site CA)' }),
  },
  { $id: 'CertificateRow' },
);

export const FailoverRowSchema = Type.Object(
  {
    service: Type.String(),
    fromSite: Type.String(),
    toSite: Type.String(),
    reason: Type.String(),
    since: Iso,
    degraded: Type.Boolean({ description: "true: the callers' site (or region) has instances of the service and none is usable; false: the service only runs elsewhere" }),
    reportedBy: Type.Array(Type.String(), { description: 'the agents (site/node) whose calls fail over' }),
  },
  { $id: 'FailoverRow' },
);

export const TrafficRowSchema = Type.Object(
  {
    fromSite: Type.String(),
    fromService: Type.String(),
    toSite: Type.String(),
    toService: Type.String(),
    rps: Type.Number(),
    requests: Type.Number(),
    errors: Type.Number(),
  },
  { $id: 'TrafficRow' },
);

export const FederationStatusSchema = Type.Object(
  {
    generatedAt: Iso,
    answeredBy: Type.String({ description: 'the site whose control service answered' }),
    healthy: Type.Boolean(),
    problems: Type.Array(Type.Ref(ProblemSchema)),
    sites: Type.Array(Type.Ref(SiteSchema)),
    links: Type.Array(Type.Ref(LinkSchema)),
    catalog: Type.Array(Type.Ref(CatalogRowSchema)),
    policy: Type.Array(Type.Ref(PolicyRowSchema)),
    certificates: Type.Array(Type.Ref(CertificateRowSchema)),
    failovers: Type.Array(Type.Ref(FailoverRowSchema)),
    traffic: Type.Array(Type.Ref(TrafficRowSchema)),
  },
  { $id: 'FederationStatus' },
);

export const ErrorSchema = Type.Object({ code: Type.String(), message: Type.String() }, { $id: 'Error' });

export type Problem = Static<typeof ProblemSchema>;
export type SiteRow = Static<typeof SiteSchema>;
export type LinkRow = Static<typeof LinkSchema>;
export type CatalogRow = Static<typeof CatalogRowSchema>;
export type PolicyRow = Static<typeof PolicyRowSchema>;
export type CertificateRow = Static<typeof CertificateRowSchema>;
export type FailoverRow = Static<typeof FailoverRowSchema>;
export type TrafficRow = Static<typeof TrafficRowSchema>;
/** Static of a Ref-ed schema resolves to unknown, so the document type is spelled out. */
export interface FederationStatus {
  readonly generatedAt: string;
  readonly answeredBy: string;
  readonly healthy: boolean;
  readonly problems: Problem[];
  readonly sites: SiteRow[];
  readonly links: LinkRow[];
  readonly catalog: CatalogRow[];
  readonly policy: PolicyRow[];
  readonly certificates: CertificateRow[];
  readonly failovers: FailoverRow[];
  readonly traffic: TrafficRow[];
}

/** Every component schema, for the OpenAPI document. */
export const COMPONENT_SCHEMAS = [
  ProblemSchema,
  SiteSchema,
  LinkSchema,
  CatalogRowSchema,
  PolicyRowSchema,
  CertificateRowSchema,
  FailoverRowSchema,
  TrafficRowSchema,
  FederationStatusSchema,
  ErrorSchema,
] as const;
