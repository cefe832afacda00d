import { constants, type Http2Session, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { MeridianError } from '../../../shared/errors/index.js';

/** When a client's resets end its session. */
export interface ResetLimits {
  /** Unanswered streams the client may reset within a window. Default 100. */
  readonly maxResets: number;
  /** The sliding window, in milliseconds. Default 10 s. */
  readonly windowMs: number;
}

/**
 * Defaults: past 100 streams reset before their answer within 10 s, and more than half of the
 * streams opened meanwhile (Envoy's premature-reset rule), a client is taken for a rapid-reset
 * attacker (CVE-2023-44487). A client that cancels a share of busy traffic never trips it.
 * Node's own nghttp2 limit only ends such a session after ~1 000 resets, with INTERNAL_ERROR.
 */
export const DEFAULT_RESET_LIMITS: ResetLimits = { maxResets: 100, windowMs: 10_000 };

/**
 * One session's resets in the current window and the one before, weighted by how much of the
 * previous window the sliding window still covers. Streams opened are read off the client's
 * stream ids (odd, increasing), so nothing is counted per stream that was not reset.
 */
export class ResetWindow {
  private start: number;
  private resets = 0;
  private firstId: number;
  private lastId: number;
  private previousResets = 0;
  private previousOpened = 0;

  constructor(
    private readonly limits: ResetLimits,
    now: number,
    streamId: number,
  ) {
    this.start = now;
    this.firstId = streamId;
    this.lastId = streamId;
  }

  /** Whether the window still holds any reset (else it can be forgotten). */
  active(now: number): boolean {
    return now - this.start < 2 * this.limits.windowMs;
  }

  /** Counts a reset of stream `streamId`; true when the client is over the limits. */
  reset(now: number, streamId: number): boolean {
    const { windowMs } = this.limits;
    const elapsed = now - this.start;
    if (elapsed >= windowMs) {
      const recent = elapsed < 2 * windowMs;
      this.previousResets = recent ? this.resets : 0;
      this.previousOpened = recent ? this.opened() : 0;
      // Windows stay aligned, so the previous one weighs what the sliding window still covers of it.
      this.start += windowMs * Math.floor(elapsed / windowMs);
      this.resets = 0;
      this.firstId = streamId;
    }
    this.resets += 1;
    this.lastId = Math.max(this.lastId, streamId);
    const weight = Math.max(0, 1 - (now - this.start) / windowMs);
    const resets = this.resets + this.previousResets * weight;
    const opened = this.opened() + this.previousOpened * weight;
    return resets > this.limits.maxResets && resets * 2 > opened;
  }

  private opened(): number {
    return (this.lastId - this.firstId) / 2 + 1;
  }
}

/**
 * Rapid-reset protection for an HTTP/2 server: counts, per session, the streams its client
 * reset before any answer, and past the limits sends GOAWAY(ENHANCE_YOUR_CALM) and closes the
 * session. A session that reset anything lately is `suspect`: the proxy lets one event-loop turn
 * pass before forwarding its new streams, so a RST_STREAM right behind its HEADERS (the attack's
 * pattern) is seen before anything leaves. Well-behaved sessions cost one listener per stream.
 */
export class ResetGuard {
  private readonly windows = new WeakMap<Http2Session, ResetWindow>();
  private readonly tripped = new WeakSet<Http2Session>();
  private readonly onAborted: (this: ServerHttp2Stream) => void;

  constructor(
    private readonly limits: ResetLimits,
    private readonly onTrip: (session: Http2Session) => void,
  ) {
    // One function for every stream: nothing is allocated per stream.
    this.onAborted = abortedListener(this);
  }

  /** Watches every stream of every session of `server`. */
  watch(server: Http2Server): void {
    server.on('session', (session: Http2Session) => session.on('stream', (stream: ServerHttp2Stream) => this.watchStream(session, stream)));
  }

  /** Whether `session`'s client reset a stream before its answer within the last two windows. */
  suspect(session: Http2Session | undefined): boolean {
    if (session === undefined) return false;
    const window = this.windows.get(session);
    if (window === undefined) return false;
    if (window.active(Date.now())) return true;
    this.windows.delete(session);
    return false;
  }

  /** A stream closed before our side ended it ('aborted'); it counts as a reset only before any answer. */
  aborted(stream: ServerHttp2Stream): void {
    const session = stream.session;
    if (session !== undefined) this.count(session, stream);
  }

  private watchStream(session: Http2Session, stream: ServerHttp2Stream): void {
    // Node announces the streams of bytes it replays (the listener sniffed the protocol first)
    // only once all of them were processed: a stream reset in that batch is over already.
    if (stream.aborted) this.count(session, stream);
    else stream.on('aborted', this.onAborted);
  }

  private count(session: Http2Session, stream: ServerHttp2Stream): void {
    const id = stream.id;
    // Streams aborted because their session is going away (a drain, a dropped connection, this guard) are not the client's resets.
    if (stream.headersSent || id === undefined || session.closed || session.destroyed) return;
    const now = Date.now();
    let window = this.windows.get(session);
    if (window === undefined) {
      window = new ResetWindow(this.limits, now, id);
      this.windows.set(session, window);
    }
    if (!window.reset(now, id)) return;
    this.trip(session, id);
  }

  /**
   * GOAWAY(ENHANCE_YOUR_CALM) at once, from inside nghttp2's processing of the bytes in hand: a
   * submitted GOAWAY also keeps nghttp2's own reset limit from answering the rest of a large
   * read with INTERNAL_ERROR. The session is destroyed once that processing is over.
   */
  private trip(session: Http2Session, lastStreamId: number): void {
    if (this.tripped.has(session)) return;
    this.tripped.add(session);
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, lastStreamId);
    process.nextTick(() => {
      if (session.destroyed) return;
      // destroy() takes a code only along with an error (its default error means NO_ERROR).
      const why = new MeridianError('MERIDIAN_ERR_BAD_REQUEST', `HTTP/2 client reset more than ${this.limits.maxResets} streams before their answer (rapid reset)`);
      session.destroy(why, constants.NGHTTP2_ENHANCE_YOUR_CALM);
      this.onTrip(session);
    });
  }
}

/** The 'aborted' listener of every stream a guard watches (the stream is `this`). */
function abortedListener(guard: ResetGuard): (this: ServerHttp2Stream) => void {
  return function (this: ServerHttp2Stream) {
    guard.aborted(this);
  };
}
