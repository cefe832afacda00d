import type { Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';

/**
 * The connections of one proxy listener, so `close()` can drain them: HTTP/2 sessions get a
 * GOAWAY and finish their open streams; HTTP/1.1 connections close once their request in
 * flight is answered; raw TCP pipes run on. Whatever is left at the deadline is destroyed.
 */
export class ConnectionTracker {
  private readonly http1 = new Map<Duplex, number>();
  private readonly sessions = new Set<Http2Session>();
  private readonly raw = new Set<Duplex>();
  private draining = false;
  private settle: (() => void) | undefined;

  get isDraining(): boolean {
    return this.draining;
  }

  /** An HTTP/1.1 connection; its requests are counted with {@link requestStarted}. */
  addHttp1(socket: Duplex): void {
    this.http1.set(socket, 0);
    socket.once('close', () => this.forget(() => this.http1.delete(socket)));
    if (this.draining) socket.end();
  }

  addSession(session: Http2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.forget(() => this.sessions.delete(session)));
    if (this.draining) session.close();
  }

  /** A raw byte pipe (TCP), or a socket whose protocol is not known yet. */
  addRaw(socket: Duplex): void {
    this.raw.add(socket);
    socket.once('close', () => this.forget(() => this.raw.delete(socket)));
  }

  /** A socket tracked as raw turned out to be HTTP/1.1 or HTTP/2. */
  release(socket: Duplex): void {
    this.forget(() => this.raw.delete(socket));
  }

  requestStarted(socket: Duplex): void {
    const active = this.http1.get(socket);
    if (active !== undefined) this.http1.set(socket, active + 1);
  }

  requestFinished(socket: Duplex): void {
    const active = this.http1.get(socket);
    if (active === undefined) return;
    this.http1.set(socket, Math.max(0, active - 1));
    // Ending an idle keep-alive connection is how HTTP/1.1 says "no more requests here".
    if (this.draining && active <= 1) socket.end();
  }

  /** Starts draining and resolves once every connection closed, destroying the rest after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    for (const [socket, active] of this.http1) if (active === 0) socket.end();
    for (const session of this.sessions) session.close();
    if (this.size() > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.settle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    this.destroyAll();
  }

  /** Destroys every tracked connection at once. */
  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of [...this.http1.keys(), ...this.raw]) socket.destroy();
  }

  private size(): number {
    return this.http1.size + this.sessions.size + this.raw.size;
  }

  private forget(remove: () => void): void {
    remove();
    if (this.draining && this.size() === 0) this.settle?.();
  }
}
