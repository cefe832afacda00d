import type { PolicySource } from '../../../shared/policy/index.js';

/** The trust domain of every bench federation (dev/local-sites via catalog/federation.ts). */
export const BENCH_TRUST_DOMAIN = 'acme.internal';

/** Services the realistic set guards besides the bench's own destinations: each gets allow and deny documents. */
const OTHER_SERVICES = ['orders', 'payments', 'inventory', 'catalog', 'search', 'users', 'sessions', 'billing', 'reports', 'notifications'];
const SITES = ['a', 'b', 'c'];

/** Options of {@link realisticPolicy}. */
export interface RealisticPolicyOptions {
  /** Destination services the bench calls: each allows `callers` (GET/HEAD on `/`-prefixed paths). */
  readonly destinations: readonly string[];
  /** SPIFFE IDs of the workloads that call them (exact). */
  readonly callers: readonly string[];
  /** A marker that makes each apply a new version (a different digest); none by default. */
  readonly generation?: number;
  /** Extra revocation entries (e.g. the identity a revocation bench revokes). */
  readonly revoke?: readonly { readonly identity: string }[];
}

function allowDocument(service: string, index: number, callers: readonly string[]): string {
  const td = BENCH_TRUST_DOMAIN;
  const site = SITES[index % SITES.length] ?? 'a';
  const fromCallers = callers.length === 0 ? '' : `    - from: [${callers.map((c) => JSON.stringify(c)).join(', ')}]\n      to: [{ methods: [GET, HEAD], paths: [{ prefix: / }] }]\n`;
  return (
    `kind: Authorization\nmetadata: { name: ${service}-allow }\nspec:\n  action: allow\n  service: ${service}\n  rules:\n${fromCallers}` +
    `    - from: ["spiffe://${td}/site/${site}/svc/frontend", "spiffe://${td}/site/*/svc/api-gateway"]\n      to: [{ methods: [GET, POST], paths: [{ prefix: /api/v1/${service} }, { exact: /healthz }] }]\n` +
    `    - from: ["spiffe://${td}/site/*/svc/batch-${index}"]\n      to: [{ methods: [POST, PUT], paths: [{ prefix: /internal/ }], headers: [{ name: x-tenant, present: true }] }]\n` +
    `    - from: ["spiffe://${td}/site/${site}/svc/admin"]\n      to: [{ methods: [DELETE], paths: [{ prefix: /api/v1/${service}/ }], headers: [{ name: x-admin-token, present: true }, { name: x-env, exact: prod }] }]\n`
  );
}

function denyDocument(service: string, callers: readonly string[]): string {
  const td = BENCH_TRUST_DOMAIN;
  // The bench's callers match the source of this rule but not its header: every request of theirs evaluates it and passes.
  const debug = callers.length === 0 ? '' : `    - from: [${callers.map((c) => JSON.stringify(c)).join(', ')}]\n      to: [{ headers: [{ name: x-debug, present: true }] }]\n`;
  return `kind: Authorization\nmetadata: { name: ${service}-deny }\nspec:\n  action: deny\n  service: ${service}\n  rules:\n${debug}    - from: ["spiffe://${td}/site/c/svc/legacy-app", "spiffe://${td}/site/*/svc/scanner"]\n`;
}

function revocationDocument(options: RealisticPolicyOptions): string {
  const td = BENCH_TRUST_DOMAIN;
  const notAfter = new Date(Date.now() + 12 * 3_600_000).toISOString();
  const entries = [
    `spiffe://${td}/site/b/svc/old-reports`,
    `spiffe://${td}/site/c/svc/compromised-batch`,
    ...(options.revoke ?? []).map((r) => r.identity),
  ].map((identity) => `    - identity: ${JSON.stringify(identity)}\n      notAfter: "${notAfter}"\n      reason: bench\n`);
  const serials = ['0a1b2c3d4e5f', '1122334455667788', `fe${(options.generation ?? 0).toString(16).padStart(10, '0')}`].map(
    (serial) => `    - serial: "${serial}"\n      notAfter: "${notAfter}"\n`,
  );
  return `kind: Revocation\nmetadata: { name: bench-revocations }\nspec:\n  entries:\n${entries.join('')}${serials.join('')}`;
}

/**
 * A realistic policy set: default deny, for the bench's destinations and ten other services an
 * allow document (4 rules: the bench's callers, paths by prefix and exact, methods, present and
 * exact headers) and a deny document (2 rules), a federation-wide deny of scanners, and a few
 * revocations: about 50 Authorization rules over 11-12 services. `generation` changes one
 * serial entry, so each apply is a new version of the same-sized set. The bench's calls (GET /) are allowed
 * after the deny rules for their source were evaluated.
 */
export function realisticPolicy(options: RealisticPolicyOptions): PolicySource[] {
  const services = [...options.destinations, ...OTHER_SERVICES];
  const authorizations = services.flatMap((service, index) => [allowDocument(service, index, options.destinations.includes(service) ? options.callers : []), denyDocument(service, options.destinations.includes(service) ? options.callers : [])]);
  const everywhere = `kind: Authorization\nmetadata: { name: no-scanners }\nspec:\n  action: deny\n  service: "*"\n  rules:\n    - from: ["spiffe://${BENCH_TRUST_DOMAIN}/site/*/svc/port-scanner"]\n`;
  const defaults = 'kind: PolicyDefaults\nmetadata: { name: federation }\nspec:\n  defaultAction: deny\n';
  return [
    { file: 'defaults.yaml', text: defaults },
    { file: 'authorization.yaml', text: [...authorizations, everywhere].join('---\n') },
    { file: 'revocations.yaml', text: revocationDocument(options) },
  ];
}
