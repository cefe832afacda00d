import { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import type { DownstreamRequest } from './downstream.js';

/** Request bodies up to this size are kept until the response starts, so a refused attempt can be replayed. */
export const DEFAULT_REPLAY_LIMIT = 64 * 1024;

/** An HTTP/1.1 request whose parser already saw its end with no body byte (a GET, most often). */
function bodiless(req: DownstreamRequest): boolean {
  return req instanceof IncomingMessage && req.complete && req.readableLength === 0;
}

/**
 * A request body streamed to one upstream attempt after another. While no response has
 * started it keeps what it sent (up to `limit` bytes), so when an attempt provably never
 * reached the application (HTTP/2 REFUSED_STREAM from a draining instance, or a pooled
 * HTTP/1.1 connection that closed before answering) the next attempt gets the whole body
 * again: even a POST is retried safely. Past the limit, or once a response started, it keeps
 * nothing. With a limit of 0 it only streams.
 */
export class RequestBody {
  private chunks: Buffer[] = [];
  private size = 0;
  private overflowed: boolean;
  private recording = false;
  private current: Writable | undefined;

  constructor(
    private readonly req: DownstreamRequest,
    private readonly limit: number,
  ) {
    this.overflowed = limit <= 0;
  }

  /** Whether a new attempt can still be given the whole body. */
  get replayable(): boolean {
    return !this.overflowed;
  }

  /** Streams the body into `upstream`: first what earlier attempts consumed, then the rest as it comes. */
  sendTo(upstream: Writable): void {
    // Nothing to stream or keep (and no earlier attempt read any): the server dumps the empty request once answered.
    if (!this.recording && bodiless(this.req)) {
      upstream.end();
      return;
    }
    this.record();
    for (const chunk of this.chunks) upstream.write(chunk);
    if (this.req.readableEnded) {
      upstream.end();
      return;
    }
    this.current = upstream;
    this.req.pipe(upstream);
  }

  /** Stops feeding the current attempt (it was refused). */
  detach(): void {
    if (this.current !== undefined) this.req.unpipe(this.current);
    this.current = undefined;
  }

  /** A response started: no more attempts, nothing to keep. */
  commit(): void {
    this.overflowed = true;
    this.chunks = [];
  }

  private record(): void {
    if (this.recording || this.overflowed) return;
    this.recording = true;
    this.req.on('data', (chunk: Buffer) => {
      if (this.overflowed) return;
      this.size += chunk.length;
      if (this.size > this.limit) this.commit();
      else this.chunks.push(chunk);
    });
  }
}
