import type { Logger } from '../../shared/telemetry/index.js';
import type { Mirror, MirrorHealth } from './mapping.js';

/** Writes mirrors into one side (a Meridian agent or a Consul agent). Errors are MeridianErrors naming what failed. */
export interface MirrorWriter<T> {
  /** Named in logs, e.g. `Meridian agent http://127.0.0.1:8510`. */
  readonly where: string;
  /** Registers (or re-registers, when it changed) an instance; its health is reported separately. */
  put(mirror: Mirror<T>): Promise<void>;
  /** Deregisters an instance; one already gone is not an error. */
  remove(id: string): Promise<void>;
  /** Passes or fails the instance's ttl check. */
  report(id: string, health: MirrorHealth, note: string): Promise<void>;
}

interface Held {
  readonly group: string;
  /** The registered body as JSON: a change re-registers. '' for one adopted from an earlier run. */
  fingerprint: string;
  /** Undefined until reported: a fresh ttl check starts undecided. */
  health: MirrorHealth | undefined;
  note: string;
}

/** Options of a {@link MirrorSet}. */
export interface MirrorSetOptions<T> {
  readonly writer: MirrorWriter<T>;
  /** At most this many instances are held: past it, new ones are skipped with a warning (bounded memory). */
  readonly maxInstances: number;
  readonly log: Logger;
}

/**
 * What the sync wrote into one side, by group (a service name, or one group for a whole site),
 * and the writes that make it match each round's answer: only differences are written. Rounds
 * are applied one at a time and only a group's latest pending answer is kept, so a burst of
 * rounds costs one answer per group in memory, never a queue.
 */
export class MirrorSet<T> {
  readonly #held = new Map<string, Held>();
  readonly #pending = new Map<string, readonly Mirror<T>[]>();
  readonly #options: MirrorSetOptions<T>;
  #draining: Promise<void> | undefined;
  #refreshDue = false;
  #warnedFull = false;

  constructor(options: MirrorSetOptions<T>) {
    this.#options = options;
  }

  get size(): number {
    return this.#held.size;
  }

  /** Takes over an instance an earlier run wrote: re-registered if still wanted, removed if not. */
  adopt(id: string, group: string): void {
    this.#held.set(id, { group, fingerprint: '', health: undefined, note: '' });
  }

  /** The groups held, adopted ones included. */
  groups(): Set<string> {
    return new Set([...this.#held.values()].map((h) => h.group));
  }

  /** Makes `group` hold exactly `mirrors` (an empty list removes the group); resolves once written. */
  apply(group: string, mirrors: readonly Mirror<T>[]): Promise<void> {
    this.#pending.set(group, mirrors);
    return this.#kick();
  }

  /** Re-reports every held passing instance, in turn with the writes: keeps their ttl checks alive. */
  refresh(): Promise<void> {
    this.#refreshDue = true;
    return this.#kick();
  }

  /** Removes everything held (a graceful stop). */
  clear(): Promise<void> {
    for (const group of this.groups()) this.#pending.set(group, []);
    return this.#kick();
  }

  #kick(): Promise<void> {
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  /** Writes pending answers and refreshes one at a time, until none is left. */
  async #drain(): Promise<void> {
    // Never synchronous: #draining is set before the finally below can clear it.
    await Promise.resolve();
    try {
      for (;;) {
        const next = this.#pending.entries().next();
        if (next.done !== true) {
          this.#pending.delete(next.value[0]);
          await this.#write(next.value[0], next.value[1]);
        } else if (this.#refreshDue) {
          this.#refreshDue = false;
          await this.#passAll();
        } else {
          return;
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #passAll(): Promise<void> {
    for (const [id, held] of this.#held) {
      if (held.health === 'passing') await this.#attempt('pass', id, () => this.#options.writer.report(id, 'passing', ''));
    }
  }

  async #write(group: string, mirrors: readonly Mirror<T>[]): Promise<void> {
    const wanted = new Set(mirrors.map((m) => m.id));
    for (const [id, held] of [...this.#held]) {
      if (held.group !== group || wanted.has(id)) continue;
      if (await this.#attempt('deregister', id, () => this.#options.writer.remove(id))) this.#held.delete(id);
    }
    for (const mirror of mirrors) await this.#writeOne(group, mirror);
  }

  async #writeOne(group: string, mirror: Mirror<T>): Promise<void> {
    const { writer, maxInstances, log } = this.#options;
    let held = this.#held.get(mirror.id);
    if (held === undefined && this.#held.size >= maxInstances) {
      if (!this.#warnedFull) log.warn('consul sync: instance limit reached, skipping new instances', { into: writer.where, maxInstances, skipped: mirror.id });
      this.#warnedFull = true;
      return;
    }
    const fingerprint = JSON.stringify(mirror.body);
    if (held?.fingerprint !== fingerprint) {
      if (!(await this.#attempt('register', mirror.id, () => writer.put(mirror)))) return;
      held = { group, fingerprint, health: undefined, note: '' };
      this.#held.set(mirror.id, held);
    }
    if (held.health === mirror.health && held.note === mirror.note) return;
    if (await this.#attempt(mirror.health === 'passing' ? 'pass' : 'fail', mirror.id, () => writer.report(mirror.id, mirror.health, mirror.note))) {
      held.health = mirror.health;
      held.note = mirror.note;
    }
  }

  /** Runs one write; a failure is logged with what and where, and retried on a later round. */
  async #attempt(what: string, id: string, write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      this.#options.log.warn(`consul sync: ${what} failed`, { into: this.#options.writer.where, instance: id, error: (error as Error).message });
      return false;
    }
  }
}
