import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CatalogReader } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { parseGoDuration } from './duration.js';

/** Consul's bounds: `wait` defaults to 5 min and is capped at 10 min. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

/** The query parameters every read accepts (Consul's names). */
export interface ReadQuery {
  readonly dc?: string;
  readonly index?: string;
  readonly wait?: string;
  readonly filter?: string;
  readonly [name: string]: string | string[] | undefined;
}

/** X-Consul-Index: the view's change counter, never 0 (Consul clients treat 0 as "no index yet"). */
export function consulIndex(reader: CatalogReader): number {
  return Math.max(1, reader.revision);
}

/** `index` and `wait` as a blocking query, or undefined when the request does not block. */
export function blockingOf(query: ReadQuery): { index: number; waitMs: number } | undefined {
  if (query.index === undefined) return undefined;
  if (!/^\d{1,16}$/.test(query.index)) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `index: ${JSON.stringify(query.index.slice(0, 32))} must be a non-negative integer`);
  const index = Number(query.index);
  if (index === 0) return undefined;
  const waitMs = query.wait === undefined ? DEFAULT_WAIT_MS : parseGoDuration(query.wait, 'wait');
  return { index, waitMs: Math.min(Math.max(waitMs, 0), MAX_WAIT_MS) };
}

/**
 * Bounds blocking queries held at once: each holds a socket and a waiter, and a flood of them must
 * not grow the agent without limit. Past the bound a blocking query is refused with 429.
 */
export class BlockingGate {
  #held = 0;

  constructor(readonly max: number) {}

  get held(): number {
    return this.#held;
  }

  /** Waits like a Consul blocking query: until the index moves past `index`, the wait ends, or the client goes away. */
  async block(reader: CatalogReader, request: FastifyRequest, blocking: { index: number; waitMs: number }): Promise<void> {
    // An index ahead of ours means this agent restarted (its counter began again): answer at once so the client resets.
    if (consulIndex(reader) !== blocking.index) return;
    if (this.#held >= this.max) {
      throw new MeridianError('MERIDIAN_ERR_RATE_LIMITED', `too many blocking queries in flight (consulApi.maxBlockingQueries is ${this.max}); retry later`);
    }
    this.#held++;
    const closed = new AbortController();
    const abort = (): void => closed.abort();
    request.raw.socket.once('close', abort);
    try {
      await reader.waitForChange(reader.revision, blocking.waitMs, closed.signal);
    } finally {
      request.raw.socket.off('close', abort);
      this.#held--;
    }
  }
}

/** What a read's reply headers say about the view. */
export interface ViewHeaders {
  readonly reader: CatalogReader;
  /** Whether the agent reaches its site's NATS: Consul's "known leader". */
  readonly connected: () => boolean;
  readonly localSite: string;
}

/** X-Consul-Index, X-Consul-KnownLeader and X-Consul-LastContact (ms since the local site was last heard from). */
export function setConsulHeaders(reply: FastifyReply, view: ViewHeaders): void {
  const local = view.reader.sites().find((site) => site.site === view.localSite);
  const lastContact = local?.ageMs ?? 0;
  void reply.header('x-consul-index', String(consulIndex(view.reader)));
  void reply.header('x-consul-knownleader', view.connected() ? 'true' : 'false');
  void reply.header('x-consul-lastcontact', String(Math.round(lastContact)));
  void reply.header('x-consul-effective-consistency', 'stale');
}
