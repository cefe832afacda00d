import { setTimeout as sleep } from 'node:timers/promises';
import type { FederatedView } from '../shared/catalog/index.js';
import { isMeridianError } from '../shared/errors/index.js';
import { GATEWAY_SERVICE } from '../shared/mesh/index.js';
import type { Logger } from '../shared/telemetry/index.js';
import type { Gateway } from './types.js';

/** The catalog is looked at no more often than this: a large federation changes many times a second. */
export const PROBE_MIN_INTERVAL_MS = 1_000;
/** ...and at least this often, so a remote gateway that was not usable at the last change is tried again. */
export const PROBE_MAX_INTERVAL_MS = 5_000;

/** Probing of a running gateway process; see {@link startLinkProbes}. */
export interface LinkProbes {
  stop(): void;
}

/**
 * Opens a tunnel to every other site whose gateway the catalog names, as soon as it is named (as
 * Linkerd probes remote gateways): the tunnel's heartbeat then tells whether the pair can connect
 * before any call needs it, and the status lists every pair. A site whose gateway leaves the
 * catalog keeps its tunnel, which reports down with the reason while it keeps re-dialling.
 */
export function startLinkProbes(options: { readonly view: FederatedView; readonly gateway: Gateway; readonly log: Logger }): LinkProbes {
  const { view, gateway, log } = options;
  const stopped = new AbortController();
  const probeAll = (): void => {
    const sites = new Set(view.query({ service: GATEWAY_SERVICE }).map((e) => e.instance.site));
    sites.delete(gateway.id.site);
    for (const site of sites) {
      try {
        gateway.probe(site);
      } catch (error) {
        // Not usable now (stale, not passing) or draining: the next look tries again.
        if (!isMeridianError(error)) log.warn('gateway probe failed', { site, error: (error as Error).message });
      }
    }
  };
  const loop = async (): Promise<void> => {
    let revision = -1;
    while (!stopped.signal.aborted) {
      revision = await view.waitForChange(revision, PROBE_MAX_INTERVAL_MS, stopped.signal);
      if (stopped.signal.aborted) return;
      probeAll();
      await sleep(PROBE_MIN_INTERVAL_MS, undefined, { signal: stopped.signal, ref: false }).catch(() => undefined);
    }
  };
  loop().catch((error: unknown) => log.error('gateway probing stopped', { error: (error as Error).message }));
  return { stop: () => stopped.abort() };
}
