import type Consul from 'consul';
import type { ServiceDefinition } from '../../shared/catalog/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { toMeridian, type Mirror, type ToMeridianOptions } from './mapping.js';
import type { MirrorSet } from './mirror-set.js';

type Watch = ReturnType<Consul['watch']>;

/** Options of {@link ConsulToMeridian}. */
export interface ConsulToMeridianOptions {
  readonly consul: Consul;
  readonly url: string;
  readonly mapping: ToMeridianOptions;
  readonly mirrors: MirrorSet<ServiceDefinition>;
  /** A blocking query's wait, as Consul reads it (e.g. `5m`). */
  readonly wait: string;
  /** At most this many services are watched (one blocking query each). */
  readonly maxServices: number;
  readonly log: Logger;
}

/** How long after the client gave up on the service list's watch it is started again. */
const RESTART_MS = 10_000;

/** Skip reasons are logged once each, and at most this many are remembered. */
const MAX_SKIPS_REMEMBERED = 1000;

/**
 * Mirrors a Consul datacenter's services into Meridian: a blocking query on the catalog's
 * service list, and one on each service's health. A change in Consul returns its blocking
 * query at once, and the answer is written before the next query goes out, so a new, changed,
 * critical or deleted instance follows within one round.
 */
export class ConsulToMeridian {
  readonly #options: ConsulToMeridianOptions;
  readonly #watches = new Map<string, Watch>();
  readonly #skips = new Set<string>();
  #catalog: Watch | undefined;
  #restart: NodeJS.Timeout | undefined;
  #warnedFull = false;
  #stopped = false;
  /** Resolves after the first answer of the catalog is applied. */
  readonly firstRound: Promise<void>;
  #firstRound!: () => void;

  constructor(options: ConsulToMeridianOptions) {
    this.#options = options;
    this.firstRound = new Promise((resolve) => (this.#firstRound = resolve));
  }

  start(): void {
    const { consul, wait, mapping } = this.#options;
    const options = { method: consul.catalog.service.list.bind(consul.catalog.service), options: { dc: mapping.datacenter, wait } };
    this.#catalog = this.#watch('the service list', options, (data) => this.#services(data));
    // The client ends a watch for good on a 400 or an answer without X-Consul-Index: start over, a while later.
    this.#catalog.once('end', () => {
      if (!this.#stopped) this.#restart = setTimeout(() => this.start(), RESTART_MS);
    });
  }

  /** Ends every blocking query (each watch cancels its request). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#restart);
    this.#catalog?.end();
    for (const watch of this.#watches.values()) watch.end();
    this.#watches.clear();
  }

  #watch(what: string, options: Parameters<Consul['watch']>[0], onChange: (data: unknown) => void): Watch {
    const watch = this.#options.consul.watch({ ...options, backoffMax: 10_000 });
    watch.on('change', (data: unknown) => {
      if (!this.#stopped) onChange(data);
    });
    watch.on('error', (error: Error) => {
      this.#options.log.warn('consul sync: a blocking query failed; retrying with backoff', { consul: this.#options.url, watching: what, error: error.message });
    });
    return watch;
  }

  #services(data: unknown): void {
    const names = typeof data === 'object' && data !== null ? Object.keys(data) : [];
    const current = new Set(names);
    for (const [name, watch] of this.#watches) {
      if (current.has(name)) continue;
      watch.end();
      this.#watches.delete(name);
      void this.#options.mirrors.apply(name, []);
    }
    // Services only an earlier run mirrored, gone from Consul since.
    for (const group of this.#options.mirrors.groups()) if (!current.has(group)) void this.#options.mirrors.apply(group, []);
    for (const name of names) this.#follow(name);
    this.#firstRound();
  }

  #follow(name: string): void {
    if (this.#watches.has(name)) return;
    const { consul, wait, mapping, maxServices, log } = this.#options;
    if (this.#watches.size >= maxServices) {
      if (!this.#warnedFull) log.warn('consul sync: service limit reached, not watching more services', { consul: this.#options.url, maxServices, skipped: name });
      this.#warnedFull = true;
      return;
    }
    const options = { method: consul.health.service.bind(consul.health), options: { service: name, dc: mapping.datacenter, wait } };
    const watch = this.#watch(`service ${name}`, options, (data) => void this.#options.mirrors.apply(name, this.#mirrorsOf(name, data)));
    // A watch the client gave up on is followed again from the service list's next answer.
    watch.once('end', () => {
      if (this.#watches.get(name) === watch) this.#watches.delete(name);
    });
    this.#watches.set(name, watch);
  }

  #mirrorsOf(name: string, data: unknown): Mirror<ServiceDefinition>[] {
    const mirrors: Mirror<ServiceDefinition>[] = [];
    for (const entry of Array.isArray(data) ? (data as unknown[]) : []) {
      const mirror = toMeridian(entry, this.#options.mapping);
      if ('id' in mirror) mirrors.push(mirror);
      else this.#skipped(name, mirror.skip);
    }
    return mirrors;
  }

  #skipped(service: string, reason: string): void {
    const key = `${service}\u0000${reason}`;
    if (this.#skips.has(key)) return;
    if (this.#skips.size < MAX_SKIPS_REMEMBERED) this.#skips.add(key);
    this.#options.log.info('consul sync: instance not mirrored', { service, reason });
  }
}
