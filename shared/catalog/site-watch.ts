import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { openSiteBucket } from './bucket.js';

/** Callbacks of a site watch: each entry, and the end of the initial replay. */
export interface SiteWatchHandlers {
  entry(entry: KvEntry, initial: boolean): void;
  /** The initial replay is complete: the view of this site is warm. */
  warm(): void;
  /** Where to resume after an interruption (last revision applied), 0 to replay everything. */
  resumeFrom(): number;
  error(error: Error): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/**
 * Follows one site's bucket for as long as the view lives. When the watch breaks (the site is
 * partitioned away, its server restarts) it is re-opened from the last applied revision with
 * backoff: nothing is dropped from the view meanwhile, so entries turn stale instead of vanishing.
 */
export class SiteWatch {
  #closed = false;
  #stop: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly site: string,
    private readonly handlers: SiteWatchHandlers,
    /** Opens the site's bucket to follow: its catalog by default (the status board follows another). */
    private readonly open: (nc: NatsConnection, site: string, timeoutMs: number) => Promise<KV> = openSiteBucket,
  ) {}

  start(): void {
    void this.#loop();
  }

  close(): void {
    this.#closed = true;
    this.#stop?.();
  }

  async #loop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.#closed) {
      try {
        await this.#watchOnce();
        delay = RETRY_MIN_MS;
      } catch (error) {
        if (!this.#closed) this.handlers.error(error as Error);
      }
      if (this.#closed) return;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async #watchOnce(): Promise<void> {
    const kv = await this.open(this.nc, this.site, 3000);
    const resume = this.handlers.resumeFrom();
    const initial = resume === 0;
    if (initial && (await kv.status()).values === 0) this.handlers.warm();
    const iterator = await kv.watch(resume === 0 ? {} : { resumeFromRevision: resume + 1 });
    this.#stop = () => iterator.stop();
    let replaying = initial;
    for await (const entry of iterator) {
      this.handlers.entry(entry, replaying);
      if (replaying && (entry.isUpdate || entry.delta === 0)) {
        replaying = false;
        this.handlers.warm();
      }
    }
  }
}
