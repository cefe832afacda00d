import { reporterUp, type BoardEntry, type PolicyRejection, type StatusRecord } from '../../shared/status/index.js';
import type { PolicyRow, Problem } from './schema.js';

/**
 * How long a site may lag the newest policy version before the federation is unhealthy (and
 * `meridian status` fails, unless its --policy-lag says otherwise). Distribution takes well under
 * a second; a site lagging this long is cut off or has a process that cannot follow.
 */
export const POLICY_LAG_BOUND_MS = 30_000;

/** The newest policy version in the federation and when it was applied (null: no control service reported that version yet). */
export interface NewestPolicy {
  readonly version: number | null;
  readonly appliedAt: number | null;
}

/** A version as reported; anything else (an older reporter's string, garbage) reads as none. */
function versionOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** The reporter's policy fields, checked: a refusal it has since moved past is history, not a rejection. */
function reportedPolicy(record: StatusRecord): { version: number | null; rejected: PolicyRejection | null } {
  const version = versionOf(record.policyVersion);
  const refused = record.policyRejected as Partial<PolicyRejection> | null | undefined;
  const refusedVersion = versionOf(refused?.version);
  const current = refusedVersion !== null && typeof refused?.reason === 'string' && (version === null || refusedVersion > version);
  return { version, rejected: current ? { version: refusedVersion, reason: refused.reason } : null };
}

/** The newest version a control service's site holds, checked. */
function latestOf(record: StatusRecord): { version: number; appliedAt: number } | null {
  if (record.kind !== 'control') return null;
  const latest = (record.policyLatest ?? null) as { version?: unknown; appliedAt?: unknown } | null;
  const version = versionOf(latest?.version);
  const appliedAt = typeof latest?.appliedAt === 'string' ? Date.parse(latest.appliedAt) : Number.NaN;
  return version === null || !Number.isFinite(appliedAt) ? null : { version, appliedAt };
}

/** The newest version any reporter enforces, holds or refused, and its apply time as a control service reported it. */
export function newestPolicy(entries: readonly BoardEntry[]): NewestPolicy {
  let version: number | null = null;
  for (const { record } of entries) {
    const reported = reportedPolicy(record);
    for (const candidate of [reported.version, reported.rejected?.version ?? null, latestOf(record)?.version ?? null]) {
      if (candidate !== null && (version === null || candidate > version)) version = candidate;
    }
  }
  const applied = entries.map((e) => latestOf(e.record)).filter((l) => l !== null && l.version === version).map((l) => l?.appliedAt ?? Infinity);
  return { version, appliedAt: applied.length === 0 ? null : Math.min(...applied) };
}

/**
 * The reporters whose version counts: those still reporting. A reporter that stopped is its own
 * problem and must not hold its site "lagging" until it is pruned; a site none of whose reporters
 * reports (cut off) is judged by its last reports, which is exactly the lag an operator must see.
 */
function counted(own: readonly BoardEntry[], now: number): readonly BoardEntry[] {
  const up = own.filter((e) => reporterUp(e, now));
  return up.length > 0 ? up : own;
}

const reporterName = (record: StatusRecord): string => `${record.kind}/${record.name}`;

function rejectionsOf(reporters: readonly BoardEntry[]): PolicyRow['rejections'] {
  const grouped = new Map<string, PolicyRow['rejections'][number]>();
  for (const { record } of reporters) {
    const { rejected } = reportedPolicy(record);
    if (rejected === null) continue;
    const key = `${rejected.version}\n${rejected.reason}`;
    const known = grouped.get(key);
    grouped.set(key, { ...rejected, reporters: [...(known?.reporters ?? []), reporterName(record)] });
  }
  return [...grouped.values()].sort((a, b) => b.version - a.version);
}

function enforcedByControl(own: readonly BoardEntry[]): Pick<PolicyRow, 'permissiveServices' | 'revocations'> {
  const control = own.find((e) => e.record.kind === 'control')?.record;
  if (control?.kind !== 'control') return { permissiveServices: [], revocations: null };
  const permissive: unknown = control.policyPermissive;
  const revocations: unknown = control.policyRevocations;
  return {
    permissiveServices: Array.isArray(permissive) ? permissive.filter((s): s is string => typeof s === 'string') : [],
    revocations: typeof revocations === 'number' && Number.isSafeInteger(revocations) ? revocations : null,
  };
}

/** One site's policy row: versions enforced by its reporters against the federation's newest. */
export function policyRow(site: string, own: readonly BoardEntry[], newest: NewestPolicy, now: number): PolicyRow {
  const reporters = counted(own, now);
  const counts = new Map<number | null, number>();
  for (const { record } of reporters) {
    const { version } = reportedPolicy(record);
    counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  const versions = [...counts].sort(([a], [b]) => (b ?? 0) - (a ?? 0)).map(([version, count]) => ({ version, reporters: count }));
  const onNewestCount = counts.get(newest.version) ?? 0;
  const onNewest = reporters.length > 0 && onNewestCount === reporters.length ? 'all' : onNewestCount > 0 ? 'some' : 'none';
  const lagging = newest.version !== null && reporters.length > 0 && onNewestCount < reporters.length;
  return {
    site,
    versions,
    newest: newest.version,
    onNewest,
    lagging,
    laggingForMs: lagging && newest.appliedAt !== null ? Math.max(0, now - newest.appliedAt) : null,
    rejections: rejectionsOf(reporters),
    ...enforcedByControl(own),
    refusedCalls: own.reduce((sum, e) => sum + ('rejections' in e.record && typeof e.record.rejections === 'number' ? e.record.rejections : 0), 0),
  };
}

/** The policy section: one row per site. */
export function policyRows(entries: readonly BoardEntry[], sites: readonly string[], now: number): PolicyRow[] {
  const newest = newestPolicy(entries);
  return sites.map((site) => policyRow(site, entries.filter((e) => e.record.site === site), newest, now));
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** The reporters of a lagging site not on the newest version, and what they enforce (a few named, the rest counted). */
function laggards(own: readonly BoardEntry[], newest: number, now: number): string {
  const behind = counted(own, now).flatMap(({ record }) => {
    const { version } = reportedPolicy(record);
    return version === newest ? [] : [`${record.kind} ${record.name} enforces ${version === null ? 'none' : `version ${version}`}`];
  });
  const shown = behind.slice(0, 5);
  return behind.length > shown.length ? `${shown.join(', ')} and ${behind.length - shown.length} more` : shown.join(', ');
}

/** The message of a site lagging `row.newest` for `row.laggingForMs`; the CLI's --policy-lag check says the same. */
export function policyLagMessage(row: PolicyRow, own: readonly BoardEntry[] | undefined, now: number): string {
  const onNewest = row.versions.find((v) => v.version === row.newest)?.reporters ?? 0;
  const total = row.versions.reduce((sum, v) => sum + v.reporters, 0);
  const who = own === undefined ? '' : `: ${laggards(own, row.newest ?? 0, now)}`;
  return `site ${row.site} lags policy version ${row.newest ?? 'none'} for ${seconds(row.laggingForMs ?? 0)} (${onNewest} of ${total} reporters enforce it)${who}`;
}

/** Sites lagging past `boundMs` (errors), refused versions (errors), permissive mTLS (warnings). */
export function policyProblems(rows: readonly PolicyRow[], entries: readonly BoardEntry[], options: { boundMs: number; now: number }): Problem[] {
  return rows.flatMap((row): Problem[] => {
    const problems: Problem[] = [];
    if (row.lagging && row.laggingForMs !== null && row.laggingForMs > options.boundMs) {
      const own = entries.filter((e) => e.record.site === row.site);
      problems.push({ severity: 'error', site: row.site, component: 'policy-lag', message: policyLagMessage(row, own, options.now) });
    }
    for (const r of row.rejections) {
      problems.push({ severity: 'error', site: row.site, component: 'policy', message: `site ${row.site}: policy version ${r.version} refused by ${r.reporters.join(', ')}: ${r.reason}` });
    }
    if (row.permissiveServices.length > 0) {
      const which = row.permissiveServices.map((s) => (s === '*' ? '* (every service without its own mode)' : s)).join(', ');
      problems.push({ severity: 'warning', site: row.site, component: 'policy', message: `site ${row.site}: mTLS is permissive (plaintext callers accepted) for ${which}` });
    }
    return problems;
  });
}
