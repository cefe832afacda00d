import http, { type ClientRequest, type ClientRequestArgs } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HeaderList } from '../http/headers.js';
import { MeridianError } from '../../../shared/errors/index.js';

/** Options of an {@link H1Pool}. */
export interface H1PoolOptions<T> {
  /** Opens a connection to `target`; rejects with the caller's error (it reaches the request's 'error'). */
  readonly connect: (target: T) => Promise<Socket>;
  /** An idle connection is closed after this. */
  readonly idleMs: number;
  /**
   * A connection takes no new request after this and closes once its request is answered, so a
   * draining gateway's tunnel streams move on (see SessionPoolOptions.maxAgeMs). Each
   * connection's age limit is drawn from the last fifth below this, so connections opened in one
   * burst don't all reconnect in the same instant. Default: never.
   */
  readonly maxAgeMs?: number;
}

/** One HTTP/1.1 request's head, `host` included in `headers`. */
export interface H1Head {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderList;
}

/**
 * Node's keep-alive agent over connections `open` makes (a nested TLS session per connection):
 * one request at a time per connection, as many connections as requests in flight. A retired
 * agent (renewed identity) or an aged connection finishes its request and is then closed.
 */
class TargetAgent extends http.Agent {
  /** Connections open or opening: the pool forgets an agent with none. */
  private connections = 0;
  private retired = false;
  private readonly aged = new WeakSet<Duplex>();

  constructor(
    private readonly open: () => Promise<Socket>,
    private readonly limits: { readonly idleMs: number; readonly maxAgeMs: number | undefined; readonly onEmpty: () => void },
  ) {
    super({ keepAlive: true, scheduling: 'lifo' });
  }

  /** Asynchronous: Node's agent accepts the socket (or the error) through the callback. */
  override createConnection(_options: ClientRequestArgs, callback?: (error: Error | null, socket: Duplex) => void): undefined {
    this.connections += 1;
    this.open().then(
      (socket) => {
        this.track(socket);
        callback?.(null, socket);
      },
      (error: unknown) => {
        this.forget();
        callback?.(error instanceof Error ? error : new MeridianError('MERIDIAN_ERR_UPSTREAM_CONNECT', String(error)), undefined as unknown as Duplex);
      },
    );
    return undefined;
  }

  /** Node asks this once a request is answered: false closes the connection instead of pooling it. */
  override keepSocketAlive(socket: Duplex): boolean {
    if (this.retired || this.aged.has(socket)) return false;
    const tcp = socket as Socket;
    if (tcp.timeout !== this.limits.idleMs) tcp.setTimeout(this.limits.idleMs);
    return true;
  }

  /** Stops pooling: idle connections close now, busy ones once answered. */
  retire(): void {
    this.retired = true;
    this.closeIdle();
  }

  closeIdle(): void {
    for (const socket of this.idle()) socket.destroy();
  }

  private track(socket: Socket): void {
    const { maxAgeMs } = this.limits;
    const timer = maxAgeMs === undefined ? undefined : setTimeout(() => this.age(socket), maxAgeMs * (0.8 + 0.2 * Math.random())).unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.forget();
    });
  }

  private age(socket: Socket): void {
    this.aged.add(socket);
    if (this.idle().includes(socket)) socket.destroy();
  }

  private idle(): Duplex[] {
    return Object.values(this.freeSockets).flatMap((sockets) => sockets ?? []);
  }

  private forget(): void {
    this.connections -= 1;
    if (this.connections === 0) this.limits.onEmpty();
  }
}

/**
 * Keep-alive HTTP/1.1 connections per destination key, for requests passed through as
 * HTTP/1.1. Unlike HTTP/2 there is no multiplexing: a request takes an idle connection (the
 * most recently used, so spare ones time out) or opens one.
 */
export class H1Pool<T> {
  private readonly agents = new Map<string, TargetAgent>();

  constructor(private readonly options: H1PoolOptions<T>) {}

  /**
   * A request to `key`, on a pooled connection or a new one. Its 'error' before 'response'
   * carries the connect error when no connection could be opened; `reusedSocket` tells a
   * pooled connection from a new one.
   */
  request(key: string, target: T, head: H1Head): ClientRequest {
    return http.request({ agent: this.agentFor(key, target), method: head.method, path: head.path, headers: head.headers, setHost: false });
  }

  /**
   * Closes the idle connections to `key`: one of them was found closed by the peer (restarted,
   * draining), so the others likely are too, and a retry must not meet another.
   */
  closeIdle(key: string): void {
    this.agents.get(key)?.closeIdle();
  }

  /** New requests open new connections; the old ones close once idle. Used when the caller's certificate is renewed. */
  retire(): void {
    for (const agent of this.agents.values()) agent.retire();
    this.agents.clear();
  }

  /** Closes every connection (the listener has drained: nothing is in flight any more). */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agentFor(key: string, target: T): TargetAgent {
    let agent = this.agents.get(key);
    if (agent === undefined) {
      const created: TargetAgent = new TargetAgent(() => this.options.connect(target), {
        idleMs: this.options.idleMs,
        maxAgeMs: this.options.maxAgeMs,
        onEmpty: () => {
          if (this.agents.get(key) === created) this.agents.delete(key);
        },
      });
      agent = created;
      this.agents.set(key, agent);
    }
    return agent;
  }
}
