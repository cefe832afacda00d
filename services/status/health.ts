import { reportAgeMs, reporterUp, type BoardEntry } from '../../shared/status/index.js';
import type { CatalogRow, CertificateRow, FailoverRow, LinkRow, Problem, SiteRow } from './schema.js';

/** A certificate this close to expiry is a warning: renewal (at 50–60% of its life) must have failed. */
export const CERTIFICATE_WARNING_MS = 60 * 60 * 1000;

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

/** Agents or gateways that stopped reporting; a site left with no live gateway cannot be reached. */
function reporterProblems(inputs: HealthInputs): Problem[] {
  const problems: Problem[] = [];
  for (const entry of inputs.entries) {
    const { kind, site, name } = entry.record;
    if (kind === 'control' || reporterUp(entry, inputs.now)) continue;
    problems.push({ severity: 'warning', site, component: kind, message: `site ${site}: ${kind} ${name} has not reported for ${seconds(reportAgeMs(entry, inputs.now))}` });
  }
  for (const s of inputs.sites) {
    if (s.gateways.total > 0 && s.gateways.up === 0) {
      problems.push({ severity: 'error', site: s.site, component: 'gateway', message: `site ${s.site}: no east-west gateway is running (0 of ${s.gateways.total} reporting)` });
    }
  }
  return problems;
}

function linkProblems(inputs: HealthInputs): Problem[] {
  return inputs.links.flatMap((l): Problem[] => {
    if (l.state === 'up') return [];
    const why = l.lastError === null ? '' : `: ${l.lastError}`;
    return [{ severity: 'error', site: l.fromSite, component: 'link', message: `link ${l.fromSite} → ${l.toSite} (gateway ${l.gateway}) is ${l.state} since ${l.since}${why}` }];
  });
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
  const all = [...siteProblems(inputs), ...linkProblems(inputs), ...catalogProblems(inputs), ...reporterProblems(inputs), ...certificateProblems(inputs), ...failoverProblems(inputs)];
  return all.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}
