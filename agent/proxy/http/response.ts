import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { constants, Http2ServerResponse, type ClientHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { RequestBody } from './body.js';
import { abortResponse, callerGone, finishResponse, sendHead, type DownstreamResponse } from './downstream.js';
import { forwardableRawResponseHeaders, forwardableResponseHeaders, h2Status } from './headers.js';

/** How one forwarding attempt ended. */
export interface ForwardResult {
  /**
   * The request is settled: the upstream answered and its status went downstream (the response
   * may still have been cut), or the caller went away first (`cancelled`). Either way there is
   * nothing to retry and nothing to hold against the upstream.
   */
  readonly responded: boolean;
  /** The caller left before any answer (closed its connection, reset its stream); the upstream attempt was cancelled. */
  readonly cancelled?: boolean;
  /**
   * Nothing reached the upstream application and the body can be replayed whole: HTTP/2
   * refused the stream (RFC 9113 §8.7, e.g. a draining peer's GOAWAY), or a reused HTTP/1.1
   * keep-alive connection closed before any response byte. Safe to retry.
   */
  readonly retriable: boolean;
  readonly status?: number;
  /** Why an HTTP/1.1 attempt got no response (a ConnectFailure when no connection was opened). */
  readonly error?: Error;
}

/** A caller that left: its attempt ends without a verdict on the upstream. */
const CANCELLED: ForwardResult = Object.freeze({ responded: true, retriable: false, cancelled: true });

/** Called with each upstream response status (outlier detection counts 5xx). */
export type StatusObserver = (status: number) => void;

/**
 * Forwards a request over an HTTP/2 stream (the mesh session, or a local h2c app) and its
 * response back: status and headers, body with backpressure, trailers (gRPC status), and a
 * trailers-only response kept as one. A response cut mid-body is cut downstream too.
 */
export function forwardH2Response(
  res: DownstreamResponse,
  stream: ClientHttp2Stream,
  options: { body: RequestBody; onStatus?: StatusObserver },
): Promise<ForwardResult> {
  const { body, onStatus } = options;
  // The caller reset or left while the stream was being opened: cancel at once. A stream whose
  // HEADERS are still queued is never sent at all (nghttp2 drops them on RST_STREAM).
  if (callerGone(res)) {
    stream.on('error', () => undefined);
    stream.close(constants.NGHTTP2_CANCEL);
    return Promise.resolve(CANCELLED);
  }
  body.sendTo(stream);
  let status: number | undefined;
  let trailers: OutgoingHttpHeaders | undefined;
  let complete = false;
  stream.on('response', (headers, flags) => {
    status = h2Status(headers);
    body.commit();
    onStatus?.(status);
    complete = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    sendHead(res, status, forwardableResponseHeaders(headers), complete);
    if (!complete) stream.pipe(res, { end: false });
  });
  stream.on('trailers', (headers: IncomingHttpHeaders) => {
    trailers = forwardableResponseHeaders(headers);
  });
  stream.on('end', () => {
    if (complete || status === undefined) return;
    complete = true;
    finishResponse(res, trailers);
  });
  // 'close' settles every outcome; rstCode tells a refusal from a failure.
  stream.on('error', () => undefined);
  // Cancel only a response the caller abandoned: a RST_STREAM after a complete response would count
  // against the peer's rapid-reset protection, which then tears the whole session down (GOAWAY).
  res.once('close', () => {
    if (!complete && !stream.readableEnded && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  });
  return new Promise((resolve) => {
    stream.once('close', () => {
      if (status === undefined) {
        if (callerGone(res)) {
          resolve(CANCELLED);
          return;
        }
        const retriable = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM && body.replayable;
        if (retriable) body.detach();
        resolve({ responded: false, retriable });
        return;
      }
      if (!complete) abortResponse(res);
      resolve({ responded: true, retriable: false, status });
    });
  });
}

/** The response head for the downstream: raw lines for HTTP/1.1, a header object for HTTP/2. */
function writeResponseHead(res: DownstreamResponse, status: number, response: IncomingMessage): void {
  if (res instanceof Http2ServerResponse) res.writeHead(status, forwardableResponseHeaders(response.headers));
  else res.writeHead(status, forwardableRawResponseHeaders(response.rawHeaders));
}

/** Streams an upstream HTTP/1.1 response downstream; resolves once it closed, cutting the downstream one when it was incomplete. */
function forwardResponse(res: DownstreamResponse, response: IncomingMessage, status: number, resolve: (result: ForwardResult) => void): void {
  writeResponseHead(res, status, response);
  response.pipe(res, { end: false });
  // Trailers are rare: their header object is built only when some came.
  response.once('end', () => finishResponse(res, response.rawTrailers.length > 0 ? forwardableResponseHeaders(response.trailers) : undefined));
  response.on('error', () => undefined);
  response.once('close', () => {
    if (!response.complete) abortResponse(res);
    resolve({ responded: true, retriable: false, status });
  });
}

/**
 * Forwards a request over HTTP/1.1 (a pooled mesh connection, or a local app) and its response
 * back: body with backpressure both ways, trailers when chunked. The body starts once the
 * request has a connection, so a failed connect consumed none of it. Before any response it
 * tells why the attempt failed: `error` (a connect error, when no connection could be
 * opened), and `retriable` when a reused keep-alive connection closed without a response byte
 * (the peer had let it go: the request was not taken) and the body can be replayed whole.
 * `refusal` picks out an answer of the upstream's own proxy that the app was not reached: not relayed, it becomes the error.
 */
export function forwardH1Response(res: DownstreamResponse, upstream: ClientRequest, options: { body: RequestBody; onStatus?: StatusObserver; refusal?: (response: IncomingMessage) => Error | undefined }): Promise<ForwardResult> {
  const { body, onStatus } = options;
  if (callerGone(res)) {
    // Not sent yet: the request gets its socket on a later tick.
    upstream.on('error', () => undefined);
    upstream.destroy();
    return Promise.resolve(CANCELLED);
  }
  let responded = false;
  let heard = false;
  upstream.once('socket', (socket: Socket) => {
    if (upstream.reusedSocket) socket.once('data', () => (heard = true));
    body.sendTo(upstream);
  });
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  return new Promise((resolve) => {
    // 'on', not 'once': a second error must not go unhandled; resolving twice is harmless.
    upstream.on('error', (error) => {
      if (responded) return;
      if (callerGone(res)) {
        resolve(CANCELLED);
        return;
      }
      const retriable = upstream.reusedSocket && !heard && body.replayable;
      if (retriable) body.detach();
      resolve({ responded: false, retriable, error });
    });
    upstream.once('response', (response: IncomingMessage) => {
      const refused = options.refusal?.(response);
      if (refused !== undefined) {
        response.resume();
        return resolve({ responded: false, retriable: false, error: refused });
      }
      responded = true;
      const status = response.statusCode ?? 502;
      body.commit();
      onStatus?.(status);
      forwardResponse(res, response, status, resolve);
    });
  });
}
