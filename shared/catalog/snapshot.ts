import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { loadOrSetAside } from '../process/index.js';
import { isServiceInstance } from './instance.js';
import { SiteState } from './site-state.js';
import type { ServiceInstance } from './types.js';
import type { FederatedView } from './view.js';

const VERSION = 2;

/** Snapshot file: JSON lines, a header, then one line per site and one per instance. */
type Line =
  | { kind: 'header'; version: number; savedAt: string }
  | { kind: 'site'; site: string; lastHeardAt: number | null; lastRevision: number }
  | { kind: 'instance'; site: string; key: string; revision: number; instance: ServiceInstance };

/** Saves in progress per file: a save starts only once the previous one of the same file is done. */
const saving = new Map<string, Promise<void>>();
let temps = 0;

/**
 * Writes the view's last-known-good state atomically and durably (a temp file of its own, fsynced,
 * renamed over the old one, then the directory fsynced), so an agent that restarts while NATS is
 * unreachable serves it, with each site's age counted from when it was last heard. Saves of one
 * file run one after the other: overlapping callers (the writer's loop and a stopping agent's last
 * flush) never interleave. Lines are streamed with back-pressure: a 50 000-instance catalog never
 * becomes one giant string, and the event loop keeps serving meanwhile.
 */
export function saveSnapshot(path: string, view: FederatedView): Promise<void> {
  const previous = saving.get(path) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => writeSnapshot(path, view));
  saving.set(path, run);
  const forget = (): void => {
    if (saving.get(path) === run) saving.delete(path);
  };
  run.then(forget, forget);
  return run;
}

async function writeSnapshot(path: string, view: FederatedView): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${++temps}.tmp`;
  try {
    await writeLines(temp, view);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // The rename is durable only once the directory entry is.
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Streams the lines into a new file, fsynced before it is closed. */
async function writeLines(temp: string, view: FederatedView): Promise<void> {
  const out = createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const write = async (line: Line): Promise<void> => {
    if (!out.write(`${JSON.stringify(line)}\n`)) await Promise.race([once(out, 'drain'), failed]);
  };
  try {
    await write({ kind: 'header', version: VERSION, savedAt: new Date().toISOString() });
    for (const state of [...view.states().values()]) {
      if (!state.warm && state.instances.size === 0) continue;
      await write({ kind: 'site', site: state.site, lastHeardAt: state.lastHeardAt ?? null, lastRevision: state.lastRevision });
      for (const record of [...state.instances.values()]) await write({ kind: 'instance', site: state.site, ...record });
    }
    out.end();
    await Promise.race([once(out, 'close'), failed]);
  } finally {
    out.destroy();
  }
}

/** Reads a snapshot; a missing file is an empty result, an unreadable one an error naming the file. */
export function loadSnapshot(path: string): SiteState[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: unreadable catalog snapshot: ${(cause as Error).message}`, { cause });
  }
  const states = new Map<string, SiteState>();
  try {
    const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
    const header = lines[0] as Partial<Line> | undefined;
    if (header?.kind !== 'header' || header.version !== VERSION) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `unsupported snapshot version ${String(header?.kind === 'header' ? header.version : 'none')} (expected ${VERSION})`);
    for (const [index, line] of lines.slice(1).entries()) applyLine(states, checkLine(line, index + 2));
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${path}: unreadable catalog snapshot: ${(cause as Error).message}`, { cause });
  }
  return [...states.values()];
}

/**
 * Reads a snapshot; one that cannot be read (empty, truncated, another version, garbage) is
 * renamed to `<file>.corrupt-<timestamp>`, kept for diagnosis, and the agent starts empty: the
 * catalog then comes from NATS. A bad cache must never keep the agent from starting.
 */
export function loadSnapshotOrSetAside(path: string, onSetAside: (movedTo: string | undefined, error: Error) => void): SiteState[] {
  return loadOrSetAside(path, loadSnapshot, [], onSetAside);
}

/** One line, checked: a snapshot is a file anyone may have edited or cut short. */
function checkLine(value: unknown, lineNumber: number): Line {
  const line = value as Partial<Record<string, unknown>> | null;
  const ok =
    typeof line === 'object' && line !== null &&
    ((line['kind'] === 'site' && typeof line['site'] === 'string' && typeof line['lastRevision'] === 'number' && (line['lastHeardAt'] === null || typeof line['lastHeardAt'] === 'number')) ||
      (line['kind'] === 'instance' && typeof line['site'] === 'string' && typeof line['key'] === 'string' && typeof line['revision'] === 'number' && isServiceInstance(line['instance'])));
  if (!ok) throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `line ${lineNumber} is not a site or instance record`);
  return value as Line;
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

/** Options of {@link startSnapshotWriter}. */
export interface SnapshotWriterOptions {
  /** Least pause between saves. Default 1000 ms. */
  readonly minIntervalMs?: number;
  /** A save failed (a full disk): the agent keeps serving, the next change retries. */
  readonly onError?: (error: Error) => void;
}

/**
 * Saves after changes, at most once per `minIntervalMs` and never more often than ten times the
 * last save took, until stopped.
 */
export function startSnapshotWriter(view: FederatedView, path: string, options: SnapshotWriterOptions = {}): { stop(): void; flush(): Promise<void> } {
  const minIntervalMs = options.minIntervalMs ?? 1000;
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
      await flush().catch((error: unknown) => options.onError?.(error as Error));
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
