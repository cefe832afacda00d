import { reportAgeMs, reporterUp, type BoardEntry, type GatewayStatus } from '../../shared/status/index.js';
import type { CatalogRow, CertificateRow, FailoverRow, LinkRow, Problem, SiteRow } from './schema.js';

/** A certificate this close to expiry is a warning: renewal (at 50–60% of its life) must have failed. */
export const CERTIFICATE_WARNING_MS = 60 * 60 * 1000;

/**
 * How long a gateway link may be other than `up` before it fails the federation: above a peer's
 * restart (drain, re-bind, re-dial: ~1-2 s) and the tunnel's worst retry delay (5 s backoff
 * with jitter) plus a handshake, so only a pair that really cannot connect fails.
 */
export const LINK_GRACE_MS = 10_000;

/** What the health rules look at. */
export interface HealthInputs {
  readonly site: string;
  readonly entries: readonly BoardEntry[];
  readonly sites: readonly SiteRow[];
  readonly links: readonly LinkRow[];
  readonly catalog: readonly CatalogRow[];
  readonly certificates: readonly CertificateRow[];
  readonly failovers: readonly FailoverRow[];
  readonly now: number;
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? `${Math.round(ms / 1000)} s` : 'ever');

function siteProblems(inputs: HealthInputs): Problem[] {
  return inputs.sites.flatMap((s): Problem[] => {
    if (s.reachable) return [];
    const message =
      s.lastReportAgeMs === null
        ? `site ${s.site}: its control service has never reported`
        : `site ${s.site}: its control service has not reported for ${seconds(s.lastReportAgeMs)} (site down or cut off)`;
    return [{ severity: 'error', site: s.site, component: 'site', message }];
  });
}

/** Agents that stopped reporting: their node's traffic may be affected, the federation is not. */
function agentProblems(inputs: HealthInputs): Problem[] {
  return inputs.entries.flatMap((entry): Problem[] => {
    const { kind, site, name } = entry.record;
    if (kind !== 'agent' || reporterUp(entry, inputs.now)) return [];
    return [{ severity: 'warning', site, component: kind, message: `site ${site}: agent ${name} has not reported for ${seconds(reportAgeMs(entry, inputs.now))}` }];
  });
}

const lastReport = (ageMs: number): string => (Number.isFinite(ageMs) ? `last report ${seconds(ageMs)} ago` : 'no readable report time');

/**
 * A site with reporters but no gateway among them cannot be reached from other sites. A gateway
 * whose reports stopped is only "not reporting": its tunnels may still carry traffic (NATS down)
 * or not (process gone); it fails the federation when no gateway of its site reports.
 */
function gatewayProblems(inputs: HealthInputs): Problem[] {
  const problems: Problem[] = [];
  for (const { site } of inputs.sites) {
    const reporters = inputs.entries.filter((e) => e.record.site === site);
    const gateways = reporters.filter((e) => e.record.kind === 'gateway');
    // A site nobody reported for is the site problem, not a claim about its gateways.
    if (reporters.length > 0 && gateways.length === 0) {
      problems.push({ severity: 'error', site, component: 'gateway', message: `site ${site} has no east-west gateway` });
    }
    const reporting = gateways.some((e) => reporterUp(e, inputs.now));
    for (const entry of gateways) {
      if (reporterUp(entry, inputs.now)) continue;
      const message = `gateway ${entry.record.name} of site ${site} is not reporting (${lastReport(reportAgeMs(entry, inputs.now))})`;
      problems.push({ severity: reporting ? 'warning' : 'error', site, component: 'gateway', message });
    }
  }
  return problems;
}

const pairKey = (from: string, to: string): string => `${from}\n${to}`;

/**
 * A tunnel not up fails the federation once it has been so for {@link LINK_GRACE_MS} and no other
 * gateway of its site reaches that site; before (a peer restarting, a first dial) it is a warning.
 * Links of a gateway that is not reporting read 'unknown': the gateway's own problem covers them.
 */
function linkProblems(inputs: HealthInputs): Problem[] {
  const live = inputs.links.filter((l) => l.state !== 'unknown');
  const pairsUp = new Set(live.filter((l) => l.state === 'up').map((l) => pairKey(l.fromSite, l.toSite)));
  const problems = live.flatMap((l): Problem[] => {
    if (l.state === 'up') return [];
    const forMs = Math.max(0, inputs.now - Date.parse(l.since));
    const severity = forMs > LINK_GRACE_MS && !pairsUp.has(pairKey(l.fromSite, l.toSite)) ? 'error' : 'warning';
    const why = l.lastError === null ? '' : `: ${l.lastError}`;
    return [{ severity, site: l.fromSite, component: 'link', message: `link ${l.fromSite} → ${l.toSite} (gateway ${l.gateway}) is ${l.state} for ${seconds(forMs)} (since ${l.since})${why}` }];
  });
  return [...problems, ...missingLinkProblems(inputs, pairsUp)];
}

/** Gateways probe every site with a gateway from the start: a reporting gateway without a tunnel to such a site past the grace period is a fault. */
function missingLinkProblems(inputs: HealthInputs, pairsUp: ReadonlySet<string>): Problem[] {
  const live = inputs.entries.filter((e): e is BoardEntry & { record: GatewayStatus } => e.record.kind === 'gateway' && reporterUp(e, inputs.now));
  const firstStarted = new Map<string, number>();
  for (const { record } of live) firstStarted.set(record.site, Math.min(firstStarted.get(record.site) ?? Infinity, Date.parse(record.startedAt)));
  const problems: Problem[] = [];
  for (const { record } of live) {
    for (const [site, started] of firstStarted) {
      if (site === record.site || record.links.some((l) => l.peerSite === site)) continue;
      if (inputs.now - Math.max(started, Date.parse(record.startedAt)) <= LINK_GRACE_MS) continue;
      problems.push({
        severity: pairsUp.has(pairKey(record.site, site)) ? 'warning' : 'error',
        site: record.site,
        component: 'link',
        message: `link ${record.site} → ${site} is missing: gateway ${record.name} of site ${record.site} has no tunnel to site ${site}`,
      });
    }
  }
  return problems;
}

function catalogProblems(inputs: HealthInputs): Problem[] {
  return inputs.catalog.flatMap((c): Problem[] => {
    if (!c.stale) return [];
    const age = c.ageMs === null ? 'nothing received yet' : `last update ${seconds(c.ageMs)} ago`;
    return [{ severity: 'error', site: c.site, component: 'catalog', message: `catalog of site ${c.site} is stale at ${inputs.site} (${age})` }];
  });
}

function certificateProblems(inputs: HealthInputs): Problem[] {
  return inputs.certificates.flatMap((c): Problem[] => {
    if (c.expiresInMs <= 0) return [{ severity: 'error', site: c.site, component: 'certificate', message: `${c.role} certificate ${c.identity} expired at ${c.notAfter}` }];
    if (c.expiresInMs < CERTIFICATE_WARNING_MS) {
      return [{ severity: 'warning', site: c.site, component: 'certificate', message: `${c.role} certificate ${c.identity} expires in ${seconds(c.expiresInMs)} (${c.notAfter})` }];
    }
    return [];
  });
}

/** A process that refused its site's trust document keeps its old roots: a rotation stalls there. */
function trustProblems(inputs: HealthInputs): Problem[] {
  return inputs.entries.flatMap(({ record }): Problem[] =>
    record.trust?.refused === undefined
      ? []
      : [{ severity: 'warning', site: record.site, component: 'trust', message: `${record.kind} ${record.name} of site ${record.site} refused the trust document (applied version ${record.trust.version}): ${record.trust.refused}` }],
  );
}

/** Served from elsewhere while nearer instances exist is working as designed, but an operator wants to know. */
function failoverProblems(inputs: HealthInputs): Problem[] {
  return inputs.failovers.filter((f) => f.degraded).map((f) => ({
    severity: 'warning' as const,
    site: f.fromSite,
    component: 'failover',
    message: `service ${f.service}: calls from ${f.fromSite} are served by ${f.toSite} since ${f.since} (${f.reason})`,
  }));
}

/** Everything wrong with the federation, errors first. */
export function findProblems(inputs: HealthInputs): Problem[] {
  const all = [...siteProblems(inputs), ...linkProblems(inputs), ...catalogProblems(inputs), ...gatewayProblems(inputs), ...agentProblems(inputs), ...certificateProblems(inputs), ...trustProblems(inputs), ...failoverProblems(inputs)];
  return all.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}
