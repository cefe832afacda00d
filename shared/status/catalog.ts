import type { FederatedView } from '../catalog/index.js';
import type { CatalogSiteStatus } from './types.js';

/** One row per site of the federation's catalog as `view` holds it: counts, age, staleness and sync lag. */
export function catalogStatus(view: FederatedView): CatalogSiteStatus[] {
  return view
    .sites()
    .map((site) => {
      const entries = view.query({ site: site.site });
      return {
        site: site.site,
        services: new Set(entries.map((e) => e.instance.service)).size,
        instances: entries.length,
        passing: entries.filter((e) => e.instance.health === 'passing').length,
        ageMs: site.ageMs ?? null,
        stale: site.stale,
        syncLagMs: site.syncLagMs ?? null,
      };
    })
    .sort((a, b) => a.site.localeCompare(b.site));
}
