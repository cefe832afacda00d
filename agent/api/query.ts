import type { CatalogQuery } from '../../shared/catalog/index.js';
import { parseDuration } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import type { CatalogQueryString, InstancesQueryString } from './schemas.js';

export const MAX_WAIT_MS = 60_000;
const DEFAULT_WAIT_MS = 30_000;

function bad(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', message);
}

/** A catalog lookup from a query string the route schema already validated; labels are `key=value`. */
export function toCatalogQuery(q: CatalogQueryString): CatalogQuery {
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
    ...(q.health === undefined ? {} : { health: q.health }),
    ...(Object.keys(labels).length === 0 ? {} : { labels }),
  };
}

/** Blocking-query parameters: wait for a revision past `index`, at most `wait` (default 30s, max 60s). */
export function toBlocking(q: InstancesQueryString): { index: number; waitMs: number } | undefined {
  if (q.index === undefined) return undefined;
  const index = Number(q.index);
  // The schema allows digits only; this catches numbers past what a revision can be.
  if (!Number.isSafeInteger(index)) throw bad('index: must be a non-negative integer');
  const waitMs = q.wait === undefined ? DEFAULT_WAIT_MS : parseDuration(q.wait, 'wait');
  return { index, waitMs: Math.min(waitMs, MAX_WAIT_MS) };
}
