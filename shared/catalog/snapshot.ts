import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { SiteState } from './site-state.js';
import type { ServiceInstance } from './types.js';
import type { FederatedView } from './view.js';

const VERSION = 1;

interface SnapshotFile {
  version: number;
  savedAt: string;
  sites: { site: string; lastHeardAt: number | null; lastRevision: number; instances: { key: string; revision: number; instance: ServiceInstance }[] }[];
}

/**
 * Writes the view's last-known-good state atomically (temp file, then rename), so an agent that
 * restarts while NATS is unreachable serves it, with each site's age counted from when it was last heard.
 */
export function saveSnapshot(path: string, view: FederatedView): void {
  const file: SnapshotFile = {
    version: VERSION,
    savedAt: new Date().toISOString(),
    sites: [...view.states().values()]
      .filter((s) => s.warm || s.instances.size > 0)
      .map((s) => ({ site: s.site, lastHeardAt: s.lastHeardAt ?? null, lastRevision: s.lastRevision, instances: [...s.instances.values()] })),
  };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(file), { mode: 0o600 });
  renameSync(temp, path);
}

/** Reads a snapshot; a missing file is an empty result, a corrupt one an error naming the file. */
export function loadSnapshot(path: string): SiteState[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  let file: SnapshotFile;
  try {
    file = JSON.parse(text) as SnapshotFile;
    if (file.version !== VERSION || !Array.isArray(file.sites)) throw new Error(`unsupported snapshot version ${String(file.version)}`);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: unreadable catalog snapshot`, { cause });
  }
  return file.sites.map((s) => {
    const state = new SiteState(s.site);
    state.lastHeardAt = s.lastHeardAt ?? undefined;
    state.lastRevision = s.lastRevision;
    for (const record of s.instances) state.instances.set(record.key, record);
    return state;
  });
}

/** Saves after changes, at most once per `minIntervalMs`, until stopped. */
export function startSnapshotWriter(view: FederatedView, path: string, minIntervalMs = 1000): { stop(): void; flush(): void } {
  let stopped = false;
  let saved = -1;
  const wake = new AbortController();
  const flush = (): void => {
    if (view.revision === saved) return;
    saved = view.revision;
    saveSnapshot(path, view);
  };
  const loop = async (): Promise<void> => {
    while (!stopped) {
      await view.waitForChange(saved, 60_000, wake.signal);
      if (stopped) return;
      try {
        flush();
      } catch {
        // A full disk must not stop the agent serving; the next change retries.
      }
      await new Promise((resolve) => setTimeout(resolve, minIntervalMs).unref());
    }
  };
  void loop();
  return {
    stop: () => {
      stopped = true;
      wake.abort();
    },
    flush,
  };
}
