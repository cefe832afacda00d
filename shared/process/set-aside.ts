import { renameSync } from 'node:fs';

/**
 * Reads a cache file with `load`; one that cannot be used is renamed to `<file>.corrupt-<timestamp>`,
 * kept for diagnosis, and `empty` is returned: a bad cache must never keep a process from starting.
 * `onSetAside` is told where the file went (undefined when not even a rename was possible, e.g. a
 * read-only directory; the next save replaces it if it can) and why it was unusable.
 */
export function loadOrSetAside<T>(path: string, load: (path: string) => T, empty: T, onSetAside: (movedTo: string | undefined, error: Error) => void): T {
  try {
    return load(path);
  } catch (error) {
    const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[-:.]/g, '')}`;
    try {
      renameSync(path, movedTo);
      onSetAside(movedTo, error as Error);
    } catch {
      onSetAside(undefined, error as Error);
    }
    return empty;
  }
}
