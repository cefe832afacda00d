import { leaseKey } from './layout.js';
import type { FederatedView } from './view.js';
import type { SiteCatalogWriter } from './writer.js';

/**
 * Deletes the instances of dead nodes from the site's own bucket: a node whose lease was not
 * renewed within its TTL. Every agent of a site runs one (deletes are conditional on the entry's
 * revision, so racing reapers are harmless); the deletes then reach every site's view. A dead
 * instance therefore leaves the catalog within its lease TTL plus one reaper interval.
 */
export function startLeaseReaper(options: { view: FederatedView; writer: SiteCatalogWriter; intervalMs: number; now?: () => number }): { stop(): void } {
  const now = options.now ?? Date.now;
  let running = false;
  const sweep = async (): Promise<void> => {
    const state = options.view.states().get(options.writer.site);
    if (running || state === undefined || !state.warm) return;
    running = true;
    try {
      const at = now();
      for (const { instance, revision, key } of [...state.instances.values()]) {
        if (state.nodeExpired(instance.node, at, false)) await options.writer.removeIfUnchanged(key, revision);
      }
      for (const [node, record] of [...state.leases]) {
        if (state.nodeExpired(node, at, false)) await options.writer.removeIfUnchanged(leaseKey(node), record.revision);
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep().catch(() => undefined), options.intervalMs).unref();
  return { stop: () => clearInterval(timer) };
}
