import { constants, type Http2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';

/** Options of {@link pipe}: byte counters (`aToB` counts what `a` produced, `bToA` what `b` produced). */
export interface PipeCounters {
  readonly aToB?: (bytes: number) => void;
  readonly bToA?: (bytes: number) => void;
  /**
   * Once one side has closed, how long the other may still flush before it is destroyed, so no
   * pipe outlives its peer for long; default 5000.
   */
  readonly lingerMs?: number;
}

const DEFAULT_LINGER_MS = 5000;

function isHttp2Stream(stream: Duplex): stream is Duplex & Http2Stream {
  return 'rstCode' in stream && typeof (stream as Partial<Http2Stream>).close === 'function';
}

/**
 * Cuts a stream abnormally. An HTTP/2 stream gets RST_STREAM(CANCEL), so the far end learns the
 * stream was aborted rather than cleanly finished; a socket is destroyed.
 */
export function abortStream(stream: Duplex): void {
  if (stream.destroyed) return;
  if (isHttp2Stream(stream)) {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  stream.destroy();
}

/**
 * Whether a stream that ended or closed was aborted rather than finished. Node ends an HTTP/2
 * stream's readable side on RST_STREAM too, so for those the reset code decides, not the end.
 */
function wasAborted(stream: Duplex): boolean {
  if (isHttp2Stream(stream)) return stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR;
  return !stream.readableEnded;
}

/**
 * Joins two byte streams both ways. `pipe` carries back-pressure (a full destination pauses the
 * source); a clean end on one side ends the other's writable side (TCP FIN, HTTP/2 END_STREAM),
 * so half-close works. An error or an abort on either side cuts the other: an aborted stream is
 * never passed on as a clean end, and a pipe never leaves a half-dead peer holding resources.
 * The one byte pipe of the mesh: the agent's TCP connections and the gateway's streams both use
 * it. Resolves once both sides are closed.
 */
export function pipe(a: Duplex, b: Duplex, counters: PipeCounters = {}): Promise<void> {
  const lingerMs = counters.lingerMs ?? DEFAULT_LINGER_MS;
  const cutBoth = (): void => {
    abortStream(a);
    abortStream(b);
  };
  const join = (from: Duplex, to: Duplex, count: ((bytes: number) => void) | undefined): Promise<void> => {
    from.on('error', cutBoth);
    from.pipe(to, { end: false });
    if (count !== undefined) from.on('data', (chunk: Buffer) => count(chunk.length));
    from.once('end', () => {
      if (wasAborted(from)) cutBoth();
      else to.end();
    });
    return new Promise((resolve) => {
      if (from.destroyed) {
        resolve();
        return;
      }
      from.once('close', () => {
        if (wasAborted(from)) cutBoth();
        else if (!to.destroyed) setTimeout(() => abortStream(to), lingerMs).unref();
        resolve();
      });
    });
  };
  const done = Promise.all([join(a, b, counters.aToB), join(b, a, counters.bToA)]);
  if (a.destroyed || b.destroyed) cutBoth();
  return done.then(() => undefined);
}
