import { createWriteStream, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { SiteState } from './site-state.js';
import type { ServiceInstance } from './types.js';
import type { FederatedView } from './view.js';

const VERSION = 2;

/** Snapshot file: JSON lines, a header, then one line per site and one per instance. */
type Line =
  | { kind: 'header'; version: number; savedAt: string }
  | { kind: 'site'; site: string; lastHeardAt: number | null; lastRevision: number }
  | { kind: 'instance'; site: string; key: string; revision: number; instance: ServiceInstance };

/**
 * Writes the view's last-known-good state atomically (temp file, then rename), so an agent that
 * restarts while NATS is unreachable serves it, with each site's age counted from when it was
 * last heard. Lines are streamed with back-pressure: a 50 000-instance catalog never becomes one
 * giant string, and the event loop keeps serving meanwhile.
 */
export async function saveSnapshot(path: string, view: FederatedView): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(temp, { mode: 0o600 });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  const write = async (line: Line): Promise<void> => {
    if (!out.write(`${JSON.stringify(line)}\n`)) await Promise.race([once(out, 'drain'), failed]);
  };
  await write({ kind: 'header', version: VERSION, savedAt: new Date().toISOString() });
  for (const state of [...view.states().values()]) {
    if (!state.warm && state.instances.size === 0) continue;
    await write({ kind: 'site', site: state.site, lastHeardAt: state.lastHeardAt ?? null, lastRevision: state.lastRevision });
    for (const record of [...state.instances.values()]) await write({ kind: 'instance', site: state.site, ...record });
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
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
  const states = new Map<string, SiteState>();
  try {
    const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
    const header = lines[0];
    if (header?.kind !== 'header' || header.version !== VERSION) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `unsupported snapshot version ${String(header?.kind === 'header' ? header.version : 'none')} (expected ${VERSION})`);
    for (const line of lines.slice(1)) applyLine(states, line);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: unreadable catalog snapshot`, { cause });
  }
  return [...states.values()];
}

function applyLine(states: Map<string, SiteState>, line: Line): void {
  if (line.kind === 'site') {
    const state = new SiteState(line.site);
    state.lastHeardAt = line.lastHeardAt ?? undefined;
    state.lastRevision = line.lastRevision;
    states.set(line.site, state);
  } else if (line.kind === 'instance') {
    states.get(line.site)?.instances.set(line.key, { key: line.key, revision: line.revision, instance: line.instance });
  }
}

/**
 * Saves after changes, at most once per `minIntervalMs` and never more often than ten times the
 * last save took, until stopped.
 */
export function startSnapshotWriter(view: FederatedView, path: string, minIntervalMs = 1000): { stop(): void; flush(): Promise<void> } {
  let stopped = false;
  let saved = -1;
  const wake = new AbortController();
  const flush = async (): Promise<void> => {
    if (view.revision === saved) return;
    const revision = view.revision;
    await saveSnapshot(path, view);
    saved = revision;
  };
  const loop = async (): Promise<void> => {
    while (!stopped) {
      await view.waitForChange(saved, 60_000, wake.signal);
      if (stopped) return;
      const started = Date.now();
      // A full disk must not stop the agent serving: the next change retries.
      await flush().catch(() => undefined);
      const pause = Math.max(minIntervalMs, 10 * (Date.now() - started));
      await new Promise((resolve) => setTimeout(resolve, pause).unref());
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
