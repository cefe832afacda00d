import { watch, type FSWatcher } from 'node:fs';
import { isMeridianError, MeridianError } from '../../../shared/errors/index.js';
import { assertDefinitionsDir, scanDefinitionsDir, type DirectoryScan } from './file.js';
import { CoalescingRunner } from './serial.js';
import { reconcile, type DefinitionsState } from './state.js';
import type {
  DefinitionsChange,
  DefinitionsFileError,
  DefinitionsSnapshot,
  DefinitionsWatcher,
  DefinitionsWatcherOptions,
} from './types.js';

/** Default quiet time after a directory event, as Istio debounces its pushes. */
export const DEFAULT_DEBOUNCE_MS = 100;

/** A burst of events never holds a rescan back longer than this many debounce periods. */
const MAX_DEBOUNCE_PERIODS = 10;

/**
 * Watches a directory of service definition files and reports what changes, relative to the last
 * good state (see DefinitionsChange). The first scan runs, and is passed to `onChange`, before
 * this resolves; later scans run on a directory event (debounced; the whole directory is read
 * again, since editors that save by rename are seen unreliably by fs.watch), on SIGHUP, and on
 * `rescan()`. Scans never overlap. A file that turns bad keeps its last good definitions and is
 * reported in `errors`; later scans only call `onChange` when something changed or is wrong.
 * Rejects with MERIDIAN_ERR_CONFIG_INVALID naming `dir` when it is missing or not a directory.
 */
export async function watchDefinitionsDir(options: DefinitionsWatcherOptions): Promise<DefinitionsWatcher> {
  checkOptions(options);
  const { ino } = await assertDefinitionsDir(options.dir);
  const watcher = new DirectoryWatcher(options);
  try {
    await watcher.start(ino);
  } catch (err) {
    await watcher.close();
    throw err;
  }
  return watcher;
}

class DirectoryWatcher implements DefinitionsWatcher {
  readonly dir: string;
  readonly #onChange: DefinitionsWatcherOptions['onChange'];
  readonly #onError: (error: unknown) => void;
  readonly #debounceMs: number;
  readonly #runner = new CoalescingRunner(() => this.#scan());
  readonly #onSighup = (): void => this.#trigger();
  #state: DefinitionsState = new Map();
  #errors: readonly DefinitionsFileError[] = [];
  #emitted = false;
  #closed = false;
  #fsWatcher: { watcher: FSWatcher; ino: number } | undefined;
  #debounce: { timer: NodeJS.Timeout; since: number } | undefined;

  constructor(options: DefinitionsWatcherOptions) {
    this.dir = options.dir;
    this.#onChange = options.onChange;
    this.#onError = options.onError ?? reportToStderr;
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  async start(ino: number): Promise<void> {
    process.on('SIGHUP', this.#onSighup);
    // Watch before the first read, so that no edit falls between the two.
    this.#watchDirectory(ino);
    await this.#runner.request();
  }

  rescan(): Promise<DefinitionsChange> {
    return this.#runner.request();
  }

  current(): DefinitionsSnapshot {
    const definitions = [...this.#state].flatMap(([path, defs]) => defs.map((d) => ({ path, index: d.index, definition: d.definition })));
    return { definitions, errors: this.#errors };
  }

  async close(): Promise<void> {
    this.#closed = true;
    process.off('SIGHUP', this.#onSighup);
    if (this.#debounce !== undefined) clearTimeout(this.#debounce.timer);
    this.#debounce = undefined;
    this.#fsWatcher?.watcher.close();
    this.#fsWatcher = undefined;
    await this.#runner.close(new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `definitions watcher for ${this.dir} is closed`));
  }

  async #scan(): Promise<DefinitionsChange> {
    let scan: DirectoryScan;
    try {
      scan = await scanDefinitionsDir(this.dir);
    } catch (err) {
      // The directory itself went away or became unreadable: report it and change nothing.
      if (!this.#emitted || !isMeridianError(err)) throw err;
      return this.#apply(this.#state, { upserted: [], removed: [], errors: [{ path: this.dir, error: err }] });
    }
    // A directory replaced since it was last watched: watch the new one, and read it once more
    // for what changed before the watch began.
    if (this.#watchDirectory(scan.ino)) this.#trigger();
    const { next, change } = reconcile(this.#state, scan.files);
    return this.#apply(next, change);
  }

  async #apply(next: DefinitionsState, change: DefinitionsChange): Promise<DefinitionsChange> {
    const empty = change.upserted.length === 0 && change.removed.length === 0 && change.errors.length === 0;
    if (!this.#emitted || !empty) await this.#onChange(change);
    // Only once the consumer has taken the change does it become the last good state.
    this.#state = next;
    this.#errors = change.errors;
    this.#emitted = true;
    return change;
  }

  /** (Re)starts fs.watch when there is none, or when the directory was replaced (a new inode); true when it did. */
  #watchDirectory(ino: number): boolean {
    if (this.#closed || this.#fsWatcher?.ino === ino) return false;
    this.#fsWatcher?.watcher.close();
    this.#fsWatcher = undefined;
    try {
      const watcher = watch(this.dir, { persistent: true }, () => this.#onDirectoryEvent());
      watcher.on('error', () => {
        // Typically the directory was removed; the next scan reports that and watches again.
        watcher.close();
        if (this.#fsWatcher?.watcher === watcher) this.#fsWatcher = undefined;
        this.#onDirectoryEvent();
      });
      this.#fsWatcher = { watcher, ino };
      return true;
    } catch (err) {
      const message = `definitions directory ${this.dir}: cannot watch (${errorText(err)}); changes are picked up on SIGHUP or rescan()`;
      this.#onError(new MeridianError('MERIDIAN_ERR_FILE_IO', message, { cause: err }));
      return false;
    }
  }

  #onDirectoryEvent(): void {
    if (this.#closed) return;
    const now = Date.now();
    const since = this.#debounce?.since ?? now;
    if (this.#debounce !== undefined) clearTimeout(this.#debounce.timer);
    const wait = Math.max(0, Math.min(this.#debounceMs, since + MAX_DEBOUNCE_PERIODS * this.#debounceMs - now));
    const timer = setTimeout(() => {
      this.#debounce = undefined;
      this.#trigger();
    }, wait);
    this.#debounce = { timer, since };
  }

  #trigger(): void {
    if (this.#closed) return;
    this.#runner.request().catch((err: unknown) => {
      if (!this.#closed) this.#onError(err);
    });
  }
}

function checkOptions(options: DefinitionsWatcherOptions): void {
  const fail = (message: string): never => {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `watchDefinitionsDir: ${message}`);
  };
  if (typeof options !== 'object' || options === null) fail('options must be an object');
  if (typeof options.dir !== 'string' || options.dir === '') fail('options.dir must be a non-empty path');
  if (typeof options.onChange !== 'function') fail('options.onChange must be a function');
  if (options.onError !== undefined && typeof options.onError !== 'function') fail('options.onError must be a function');
  const { debounceMs } = options;
  if (debounceMs !== undefined && !(typeof debounceMs === 'number' && Number.isFinite(debounceMs) && debounceMs >= 0)) {
    fail(`options.debounceMs must be a non-negative number of milliseconds, got ${String(debounceMs)}`);
  }
}

function reportToStderr(error: unknown): void {
  console.error(`meridian: definitions watcher: ${errorText(error)}`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
