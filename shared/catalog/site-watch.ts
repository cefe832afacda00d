import type { KV, KvEntry, KvStatus } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { MeridianError, isMeridianError } from '../errors/index.js';
import { openSiteBucket } from './bucket.js';
import { isStreamNotFound } from './jetstream-checks.js';

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
/** A watch silent this long checks that its bucket still exists (default; a view passes its staleness bound). */
const SILENCE_CHECK_MS = 5000;

/**
 * Follows one site's bucket for as long as the view lives. When the watch breaks (the site is
 * partitioned away, its server restarts) it is re-opened from the last applied revision with
 * backoff: nothing is dropped from the view meanwhile, so entries turn stale instead of vanishing.
 * A bucket deleted under the watch leaves it silent rather than broken, so a silent watch checks
 * its bucket: gone, the watch waits for it to come back; recreated (another stream, revisions
 * from 1 again), it replays the new bucket from the start.
 */
export class SiteWatch {
  #closed = false;
  #stop: (() => void) | undefined;
  /** Creation time of the stream last watched: a different one is a recreated bucket. */
  #created: string | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly site: string,
    private readonly handlers: SiteWatchHandlers,
    /** Opens the site's bucket to follow: its catalog by default (the status board follows another). */
    private readonly open: (nc: NatsConnection, site: string, timeoutMs: number) => Promise<KV> = openSiteBucket,
    private readonly silenceCheckMs = SILENCE_CHECK_MS,
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
    const status = await this.#status(kv);
    let resume = this.handlers.resumeFrom();
    const recreated = this.#created !== undefined && status.streamInfo.created !== this.#created;
    if (resume > 0 && (recreated || status.streamInfo.state.last_seq < resume)) resume = 0;
    this.#created = status.streamInfo.created;
    const initial = resume === 0;
    if (initial && status.values === 0) this.handlers.warm();
    const iterator = await kv.watch(resume === 0 ? {} : { resumeFromRevision: resume + 1 });
    this.#stop = () => iterator.stop();
    let heard = Date.now();
    const check = setInterval(() => {
      if (Date.now() - heard < this.silenceCheckMs) return;
      heard = Date.now();
      // A failed check (the site cut off) is no verdict; only a missing or recreated stream ends the watch.
      this.#status(kv).then(
        (now) => now.streamInfo.created !== this.#created && iterator.stop(),
        (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_BUCKET_MISSING') && iterator.stop(),
      );
    }, Math.max(250, this.silenceCheckMs / 2)).unref();
    let replaying = initial;
    try {
      for await (const entry of iterator) {
        heard = Date.now();
        this.handlers.entry(entry, replaying);
        if (replaying && (entry.isUpdate || entry.delta === 0)) {
          replaying = false;
          this.handlers.warm();
        }
      }
    } finally {
      clearInterval(check);
    }
  }

  /** The bucket's status; a missing bucket is said so, not "stream not found". */
  async #status(kv: KV): Promise<KvStatus> {
    try {
      return await kv.status();
    } catch (cause) {
      if (!isStreamNotFound(cause)) throw cause;
      const bucket = (kv as Partial<{ bucket: string }>).bucket ?? `of site ${this.site}`;
      throw new MeridianError('MERIDIAN_ERR_BUCKET_MISSING', `bucket ${bucket} is missing (the site's control service recreates it)`, { cause });
    }
  }
}
