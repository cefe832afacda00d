import { renderTable } from '../../shared/text/index.js';
import type { FederationStatus } from './schema.js';

const ms = (value: number | null): string => (value === null ? '-' : value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`);
const ago = (iso: string | null, now: number): string => (iso === null ? '-' : `${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))} s ago`);
const bytes = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);
const days = (expiresInMs: number): string => (expiresInMs <= 0 ? 'EXPIRED' : expiresInMs < 86_400_000 ? `${(expiresInMs / 3_600_000).toFixed(1)} h` : `${(expiresInMs / 86_400_000).toFixed(0)} d`);

function section(title: string, body: string): string {
  return `${title}\n${body}`;
}

function sites(status: FederationStatus): string {
  const rows = status.sites.map((s) => [s.site, s.region, s.platform, s.reachable ? 'yes' : 'NO', `${s.agents.up}/${s.agents.total}`, `${s.gateways.up}/${s.gateways.total}`]);
  return section('sites', renderTable(['site', 'region', 'platform', 'reachable', 'agents up', 'gateways up'], rows));
}

function links(status: FederationStatus, now: number): string {
  if (status.links.length === 0) return section('gateway links', "(none: no gateway has another site's gateway to dial)");
  const rows = status.links.map((l) => [`${l.fromSite} → ${l.toSite}`, l.gateway, l.state, ms(l.rttMs), ago(l.lastHeartbeat, now), ago(l.since, now), String(l.streams), `${bytes(l.bytesOut)} / ${bytes(l.bytesIn)}`]);
  return section('gateway links', renderTable(['link', 'gateway', 'state', 'rtt', 'heartbeat', 'since', 'streams', 'sent / received'], rows));
}

function catalog(status: FederationStatus): string {
  const rows = status.catalog.map((c) => [
    c.site,
    String(c.services),
    `${c.passing}/${c.instances}`,
    c.stale ? 'STALE' : 'fresh',
    c.syncLag.map((l) => `${l.observer} ${ms(l.lagMs)}`).join(', ') || '-',
  ]);
  return section(`catalog (as ${status.answeredBy} sees it)`, renderTable(['site', 'services', 'passing/instances', 'state', 'sync lag at other sites'], rows));
}

function certificates(status: FederationStatus): string {
  const rows = status.certificates.map((c) => [c.site, c.role, days(c.expiresInMs), c.notAfter.slice(0, 16), c.identity]);
  return section('certificates (soonest expiry per site and role)', renderTable(['site', 'role', 'expires in', 'not after', 'identity'], rows));
}

function policyLag(p: FederationStatus['policy'][number]): string {
  if (!p.lagging) return '-';
  return p.laggingForMs === null ? 'LAGGING' : `LAGGING ${Math.round(p.laggingForMs / 1000)} s`;
}

function policy(status: FederationStatus): string {
  const newest = status.policy.find((p) => p.newest !== null)?.newest ?? null;
  const rows = status.policy.map((p) => [
    p.site,
    p.versions.map((v) => `${v.version ?? 'none'} (${v.reporters})`).join(', ') || '-',
    p.onNewest,
    policyLag(p),
    p.rejections.map((r) => `${r.version} by ${r.reporters.length}: ${r.reason}`).join('; ') || '-',
    p.permissiveServices.join(', ') || '-',
    p.revocations === null ? '-' : String(p.revocations),
    String(p.refusedCalls),
  ]);
  const title = `policy (newest version: ${newest ?? 'none published'})`;
  return section(title, renderTable(['site', 'version enforced (reporters)', 'on newest', 'lag', 'refused versions', 'mTLS permissive', 'revocations', 'refused calls'], rows));
}

function traffic(status: FederationStatus): string {
  if (status.traffic.length === 0) return section('traffic', '(no calls yet)');
  const rows = status.traffic.map((t) => [`${t.fromService}@${t.fromSite}`, `${t.toService}@${t.toSite}`, t.fromSite === t.toSite ? 'same site' : 'cross-site', t.rps.toFixed(1), String(t.requests), String(t.errors)]);
  return section('traffic', renderTable(['from', 'to', 'path', 'req/s', 'requests', 'errors'], rows));
}

function failovers(status: FederationStatus): string {
  if (status.failovers.length === 0) return section('failovers', '(none: every service is served from its callers\' site or its only site)');
  const rows = status.failovers.map((f) => [f.service, `${f.fromSite} → ${f.toSite}`, f.degraded ? 'FAILOVER' : 'runs elsewhere', f.since.slice(0, 19), f.reason]);
  return section('served from another site', renderTable(['service', 'served', 'kind', 'since', 'why'], rows));
}

/** The readable summary `meridian status` prints: health first, then every section. */
export function renderFederationStatus(status: FederationStatus, now = Date.now()): string {
  const headline = `federation ${status.healthy ? 'HEALTHY' : 'UNHEALTHY'} (answered by ${status.answeredBy} at ${status.generatedAt})`;
  const problems = status.problems.map((p) => `  ${p.severity === 'error' ? 'ERROR  ' : 'warning'} ${p.message}`);
  return [headline, ...problems, '', sites(status), '', links(status, now), '', catalog(status), '', traffic(status), '', failovers(status), '', policy(status), '', certificates(status)].join('\n');
}
