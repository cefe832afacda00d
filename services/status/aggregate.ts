import { reportAgeMs, reporterUp, type AgentStatus, type BoardEntry, type CatalogSiteStatus, type ControlStatus, type GatewayStatus } from '../../shared/status/index.js';
import { findProblems } from './health.js';
import { POLICY_LAG_BOUND_MS, policyProblems, policyRows } from './policy.js';
import type { CatalogRow, CertificateRow, FailoverRow, FederationStatus, LinkRow, Problem, SiteRow, TrafficRow } from './schema.js';

/** What the federation status is computed from. */
export interface StatusInputs {
  /** The answering site. */
  readonly site: string;
  /** Every site's status records (the status board). */
  readonly entries: readonly BoardEntry[];
  /** The federation's catalog as the answering site sees it now. */
  readonly catalog: readonly CatalogSiteStatus[];
  readonly now: number;
  /** How long a site may lag the newest policy version before that is an error. Default {@link POLICY_LAG_BOUND_MS}. */
  readonly policyLagBoundMs?: number;
}

type Kinded<K> = BoardEntry & { readonly record: K };

function ofKind<K extends BoardEntry['record']>(entries: readonly BoardEntry[], kind: K['kind']): Kinded<K>[] {
  return entries.filter((e): e is Kinded<K> => e.record.kind === kind);
}

function countUp(entries: readonly BoardEntry[], now: number): { up: number; total: number } {
  return { up: entries.filter((e) => reporterUp(e, now)).length, total: entries.length };
}

function siteRows(inputs: StatusInputs, sites: readonly string[]): SiteRow[] {
  return sites.map((site) => {
    const own = inputs.entries.filter((e) => e.record.site === site);
    const control = own.find((e) => e.record.kind === 'control');
    const described = control ?? own[0];
    return {
      site,
      region: described?.record.region ?? 'unknown',
      platform: described?.record.platform ?? 'unknown',
      // The answering control service is running (it is answering), whatever its last written report says.
      reachable: site === inputs.site || (control !== undefined && reporterUp(control, inputs.now)),
      lastReportAgeMs: site === inputs.site ? 0 : control === undefined ? null : Math.round(reportAgeMs(control, inputs.now)),
      agents: countUp(own.filter((e) => e.record.kind === 'agent'), inputs.now),
      gateways: countUp(own.filter((e) => e.record.kind === 'gateway'), inputs.now),
    };
  });
}

function linkRows(inputs: StatusInputs): LinkRow[] {
  return ofKind<GatewayStatus>(inputs.entries, 'gateway').flatMap((entry) => {
    const up = reporterUp(entry, inputs.now);
    return entry.record.links.map((link) => ({
      fromSite: entry.record.site,
      gateway: entry.record.name,
      toSite: link.peerSite,
      state: up ? link.state : 'unknown',
      since: link.since,
      lastHeartbeat: link.lastHeartbeat,
      rttMs: link.rttMs,
      streams: link.streams,
      bytesIn: link.bytesIn,
      bytesOut: link.bytesOut,
      lastError: link.lastError,
    }));
  });
}

function catalogRows(inputs: StatusInputs): CatalogRow[] {
  const controls = ofKind<ControlStatus>(inputs.entries, 'control');
  return inputs.catalog.map((row) => ({
    site: row.site,
    services: row.services,
    instances: row.instances,
    passing: row.passing,
    ageMs: row.ageMs,
    stale: row.stale,
    syncLag: controls
      .filter((c) => c.record.site !== row.site)
      .flatMap((c) => {
        const seen = c.record.catalog.find((r) => r.site === row.site);
        return seen === undefined ? [] : [{ observer: c.record.site, lagMs: seen.syncLagMs, stale: seen.stale }];
      }),
  }));
}

/** The soonest-expiring certificate per site and role. */
function certificateRows(inputs: StatusInputs): CertificateRow[] {
  const soonest = new Map<string, CertificateRow>();
  for (const { record } of inputs.entries) {
    for (const cert of record.certificates) {
      const key = `${record.site}\n${cert.role}`;
      const expiresInMs = Date.parse(cert.notAfter) - inputs.now;
      const known = soonest.get(key);
      if (known === undefined || expiresInMs < known.expiresInMs) {
        soonest.set(key, { site: record.site, role: cert.role, identity: cert.identity, notAfter: cert.notAfter, expiresInMs, expired: expiresInMs <= 0 || cert.expired === true });
      }
    }
  }
  return [...soonest.values()].sort((a, b) => a.site.localeCompare(b.site) || a.role.localeCompare(b.role));
}

/** Failovers reported by live agents, merged per service and pair of sites. */
function failoverRows(inputs: StatusInputs): FailoverRow[] {
  const merged = new Map<string, FailoverRow>();
  for (const entry of ofKind<AgentStatus>(inputs.entries, 'agent')) {
    if (!reporterUp(entry, inputs.now)) continue;
    for (const f of entry.record.failovers) {
      const key = `${f.service}\n${f.fromSite}\n${f.toSite}`;
      const reporter = `${entry.record.site}/${entry.record.name}`;
      const known = merged.get(key);
      if (known === undefined) merged.set(key, { ...f, reportedBy: [reporter] });
      else merged.set(key, { ...known, since: f.since < known.since ? f.since : known.since, reportedBy: [...known.reportedBy, reporter] });
    }
  }
  return [...merged.values()];
}

/** The service graph's edges: live agents' outbound calls summed per (caller, callee) pair of site and service. */
function trafficRows(inputs: StatusInputs): TrafficRow[] {
  const edges = new Map<string, TrafficRow>();
  for (const entry of ofKind<AgentStatus>(inputs.entries, 'agent')) {
    const up = reporterUp(entry, inputs.now);
    for (const edge of entry.record.traffic) {
      if (edge.peerSite === '') continue;
      const key = [entry.record.site, edge.service, edge.peerSite, edge.peerService].join('\n');
      const row = edges.get(key) ?? { fromSite: entry.record.site, fromService: edge.service, toSite: edge.peerSite, toService: edge.peerService, rps: 0, requests: 0, errors: 0 };
      edges.set(key, { ...row, rps: row.rps + (up ? edge.rps : 0), requests: row.requests + edge.requests, errors: row.errors + edge.errors });
    }
  }
  return [...edges.values()].sort((a, b) => b.rps - a.rps);
}

const LIST_NAMES: Readonly<Record<string, string>> = { traffic: 'traffic pairs', catalog: 'catalog rows' };

/**
 * Reports that left entries out (only the busiest traffic pairs are carried, and a report is
 * trimmed to fit the NATS server's max_payload): the status shows less than the reporter knows.
 */
function omissionProblems(entries: readonly BoardEntry[]): Problem[] {
  return entries.flatMap(({ record }) => {
    const lists = record as unknown as Readonly<Record<string, unknown>>;
    const parts = Object.entries(record.omitted ?? {})
      .filter(([, count]) => Number.isInteger(count) && count > 0)
      .map(([field, count]) => {
        const kept = lists[field];
        return `${count} of ${count + (Array.isArray(kept) ? kept.length : 0)} ${LIST_NAMES[field] ?? field}`;
      });
    if (parts.length === 0) return [];
    const message = `${record.kind} ${record.name}: its status report left out ${parts.join(', ')} (it keeps the busiest, and stays under the NATS server's max_payload)`;
    return [{ severity: 'warning' as const, site: record.site, component: record.kind, message }];
  });
}

/** Errors first; the order within each severity is kept. */
function sortProblems(problems: Problem[]): Problem[] {
  return [...problems.filter((p) => p.severity === 'error'), ...problems.filter((p) => p.severity !== 'error')];
}

/** The whole federation's status, from the answering site's board and catalog view. */
export function federationStatus(inputs: StatusInputs): FederationStatus {
  const sites = [...new Set([...inputs.entries.map((e) => e.record.site), ...inputs.catalog.map((c) => c.site)])].sort();
  const parts = {
    sites: siteRows(inputs, sites),
    links: linkRows(inputs),
    catalog: catalogRows(inputs),
    policy: policyRows(inputs.entries, sites, inputs.now),
    certificates: certificateRows(inputs),
    failovers: failoverRows(inputs),
    traffic: trafficRows(inputs),
  };
  const lag = { boundMs: inputs.policyLagBoundMs ?? POLICY_LAG_BOUND_MS, now: inputs.now };
  const problems = sortProblems([...findProblems({ ...parts, site: inputs.site, entries: inputs.entries, now: inputs.now }), ...policyProblems(parts.policy, inputs.entries, lag), ...omissionProblems(inputs.entries)]);
  return {
    generatedAt: new Date(inputs.now).toISOString(),
    answeredBy: inputs.site,
    healthy: problems.every((p) => p.severity !== 'error'),
    problems,
    ...parts,
  };
}
