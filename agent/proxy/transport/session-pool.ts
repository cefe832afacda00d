import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import { MeridianError } from '../../../shared/errors/index.js';
import { closeSession } from '../../../shared/mesh/index.js';

/** The pooled session died between being picked and being used: nothing was sent, retry. */
export class SessionGone extends MeridianError {
  constructor(cause: unknown) {
    super('MERIDIAN_ERR_UNAVAILABLE', 'pooled HTTP/2 session closed before the request was sent', { cause });
    this.name = 'SessionGone';
  }
}

interface Pooled {
  readonly session: ClientHttp2Session;
  readonly generation: number;
  active: number;
}

interface Entry {
  sessions: Pooled[];
  pending: Promise<Pooled> | undefined;
}

/** Options of a {@link SessionPool}. */
export interface SessionPoolOptions<T> {
  /** Opens a new session to `target` (rejects on connect failure, with the caller's error). */
  readonly connect: (target: T) => Promise<ClientHttp2Session>;
  /** Streams per session before another session is opened. */
  readonly maxStreamsPerSession: number;
  /** An idle session is closed after this. */
  readonly idleMs: number;
  /**
   * A session stops taking new streams after this and closes once its streams finish. Sessions
   * to another site run inside a gateway tunnel stream: rotating them lets a draining gateway
   * see every stream move to its successor before its drain bound. Default: never.
   */
  readonly maxAgeMs?: number;
}

/**
 * HTTP/2 client sessions keyed by destination: reused across requests, evicted on error,
 * GOAWAY or close, a second one opened when the first is saturated. Concurrent first requests
 * share one connect instead of racing several.
 */
export class SessionPool<T> {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;

  constructor(private readonly options: SessionPoolOptions<T>) {}

  /** Opens a stream to `key`; rejects with the connect error, or {@link SessionGone}. */
  async open(key: string, target: T, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream> {
    const pooled = await this.acquire(key, target);
    let stream: ClientHttp2Stream;
    try {
      stream = pooled.session.request(headers);
    } catch (cause) {
      this.evict(key, pooled);
      throw new SessionGone(cause);
    }
    pooled.active += 1;
    stream.once('close', () => {
      pooled.active -= 1;
    });
    return stream;
  }

  /**
   * Retires every session: they leave the pool at once (new requests open new sessions) and
   * close once their open streams finish. Used when the caller's certificate is renewed.
   */
  retire(): void {
    this.generation += 1;
    for (const [key, entry] of this.entries) {
      for (const pooled of entry.sessions) {
        this.evict(key, pooled);
        pooled.session.close();
      }
    }
  }

  /** Closes every session, destroying those still busy after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    const sessions = [...this.entries.values()].flatMap((entry) => entry.sessions.map((p) => p.session));
    this.entries.clear();
    await Promise.all(sessions.map((session) => closeSession(session, graceMs)));
  }

  private async acquire(key: string, target: T): Promise<Pooled> {
    const entry = this.entries.get(key) ?? { sessions: [], pending: undefined };
    this.entries.set(key, entry);
    const ready = entry.sessions.find((p) => p.active < this.capacity(p));
    if (ready !== undefined) return ready;
    entry.pending ??= this.connect(key, target, entry).finally(() => {
      entry.pending = undefined;
    });
    return entry.pending;
  }

  private async connect(key: string, target: T, entry: Entry): Promise<Pooled> {
    const generation = this.generation;
    const session = await this.options.connect(target);
    const pooled: Pooled = { session, generation, active: 0 };
    const evict = (): void => this.evict(key, pooled);
    session.on('error', evict);
    session.once('goaway', evict);
    session.once('close', evict);
    session.setTimeout(this.options.idleMs, () => session.close());
    if (this.options.maxAgeMs !== undefined) {
      setTimeout(() => {
        evict();
        session.close();
      }, this.options.maxAgeMs).unref();
    }
    if (generation === this.generation) {
      entry.sessions.push(pooled);
      this.entries.set(key, entry);
    } else {
      // Renewed while connecting: serve the requests that waited for it, then let it go.
      setImmediate(() => session.close());
    }
    return pooled;
  }

  private capacity(pooled: Pooled): number {
    return Math.min(this.options.maxStreamsPerSession, pooled.session.remoteSettings.maxConcurrentStreams ?? Infinity);
  }

  private evict(key: string, pooled: Pooled): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.sessions = entry.sessions.filter((p) => p !== pooled);
    if (entry.sessions.length === 0 && entry.pending === undefined) this.entries.delete(key);
  }
}
