import type { ServiceDefinition } from '../../../shared/catalog/definition.js';
import type { MeridianError } from '../../../shared/errors/index.js';

/**
 * Identifies one definition: the file it came from (the definitions directory joined with the
 * file name, as given) and its 0-based position among that file's definitions.
 */
export interface DefinitionKey {
  readonly path: string;
  readonly index: number;
}

/** A definition that is registered (or is to be registered) from a file. */
export interface DefinitionEntry extends DefinitionKey {
  /** Validated, with schema defaults applied, deeply frozen. */
  readonly definition: ServiceDefinition;
}

/** A definition that is new, or whose content changed, since the last good state. */
export interface DefinitionUpsert extends DefinitionEntry {
  /** What this key held before, when it held anything (see retiredInstanceIds). */
  readonly previous?: ServiceDefinition;
}

/** A definition whose file was deleted, or no longer holds a definition at that index. */
export interface DefinitionRemoval extends DefinitionKey {
  /** The last good definition being removed. */
  readonly definition: ServiceDefinition;
}

/** A file (or the directory itself) that was rejected by this scan. */
export interface DefinitionsFileError {
  readonly path: string;
  readonly error: MeridianError;
}

/**
 * What one scan changed relative to the last good state. Keys are (path, index), so a definition
 * moved to another file, or to another place in its file, shows up as removed or replaced at its
 * old key while its instanceId lives on at the new one: register every upserted definition and
 * deregister only `retiredInstanceIds(change)`. `errors` lists every problem found by this scan,
 * also ones already reported by an earlier scan.
 */
export interface DefinitionsChange {
  readonly upserted: readonly DefinitionUpsert[];
  readonly removed: readonly DefinitionRemoval[];
  readonly errors: readonly DefinitionsFileError[];
}

/** The registered definitions (the last good state) and the problems found by the latest scan. */
export interface DefinitionsSnapshot {
  readonly definitions: readonly DefinitionEntry[];
  readonly errors: readonly DefinitionsFileError[];
}

/** Options of watchDefinitionsDir. */
export interface DefinitionsWatcherOptions {
  /** The definitions directory; it must exist. Paths in changes and errors are `dir` joined with a file name. */
  readonly dir: string;
  /**
   * Receives each change. Awaited: no other scan runs meanwhile, and the change counts as applied
   * (it becomes the last good state) only once this resolves. When it throws, the next scan
   * reports the same change again. It must not await `rescan()`, which would wait for it.
   */
  readonly onChange: (change: DefinitionsChange) => void | Promise<void>;
  /** Quiet time after the last directory event before rescanning (default 100 ms). */
  readonly debounceMs?: number;
  /**
   * Failures of scans that no caller awaited (started by a directory event or SIGHUP): a throwing
   * `onChange`, or a directory that can't be watched. Default: printed to stderr.
   */
  readonly onError?: (error: unknown) => void;
}

/** A running watch over a definitions directory. */
export interface DefinitionsWatcher {
  readonly dir: string;
  /**
   * Rescans the whole directory, after any scan in progress, and resolves with what changed
   * (possibly nothing). Rejects when `onChange` throws or the watcher is closed.
   */
  rescan(): Promise<DefinitionsChange>;
  /** The last good state and the errors of the latest scan. */
  current(): DefinitionsSnapshot;
  /** Stops watching and removes the SIGHUP listener; waits for a scan in progress to finish. */
  close(): Promise<void>;
}
