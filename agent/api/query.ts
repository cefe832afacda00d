import type { CatalogQuery, HealthState } from '../../shared/catalog/index.js';
import { parseDuration } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';

/** Query string of catalog reads: service, site, region, health, label=key=value (repeatable), index, wait. */
export interface CatalogQueryString {
  service?: string;
  site?: string;
  region?: string;
  health?: string;
  label?: string | string[];
  index?: string;
  wait?: string;
}

const HEALTH: readonly HealthState[] = ['passing', 'critical', 'unknown'];
export const MAX_WAIT_MS = 60_000;

function bad(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', message);
}

export function toCatalogQuery(q: CatalogQueryString): CatalogQuery {
  if (q.health !== undefined && !HEALTH.includes(q.health as HealthState)) throw bad(`health: must be one of ${HEALTH.join(', ')}`);
  const labels: Record<string, string> = {};
  for (const pair of q.label === undefined ? [] : [q.label].flat()) {
    const at = pair.indexOf('=');
    if (at <= 0) throw bad(`label: ${JSON.stringify(pair)} must be key=value`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    ...(q.service === undefined ? {} : { service: q.service }),
    ...(q.site === undefined ? {} : { site: q.site }),
    ...(q.region === undefined ? {} : { region: q.region }),
    ...(q.health === undefined ? {} : { health: q.health as HealthState }),
    ...(Object.keys(labels).length === 0 ? {} : { labels }),
  };
}

/** Blocking-query parameters: wait for a revision past `index`, at most `wait` (default 30s, max 60s). */
export function toBlocking(q: CatalogQueryString): { index: number; waitMs: number } | undefined {
  if (q.index === undefined) return undefined;
  const index = Number(q.index);
  if (!Number.isInteger(index) || index < 0) throw bad('index: must be a non-negative integer');
  const waitMs = q.wait === undefined ? 30_000 : parseDuration(q.wait, 'wait');
  return { index, waitMs: Math.min(waitMs, MAX_WAIT_MS) };
}
