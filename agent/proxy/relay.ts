import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { constants, type ClientHttp2Stream } from 'node:http2';
import type { RequestBody } from './body.js';
import { abortResponse, finishResponse, sendHead, type DownstreamRequest, type DownstreamResponse } from './downstream.js';
import { forwardableResponseHeaders, h2Status } from './headers.js';

/** How one forwarding attempt ended. */
export interface RelayResult {
  /** The upstream answered: its status went downstream (the response may still have been cut). */
  readonly responded: boolean;
  /**
   * Nothing reached the upstream application: HTTP/2 refused the stream (RFC 9113 §8.7,
   * e.g. a draining peer's GOAWAY) and the body can be replayed whole. Safe to retry.
   */
  readonly retriable: boolean;
  readonly status?: number;
}

/** Called with each upstream response status (outlier detection counts 5xx). */
export type StatusObserver = (status: number) => void;

/**
 * Forwards a request over an HTTP/2 stream (the mesh session, or a local h2c app) and its
 * response back: status and headers, body with backpressure, trailers (gRPC status), and a
 * trailers-only response kept as one. A response cut mid-body is cut downstream too.
 */
export function relayH2(
  res: DownstreamResponse,
  stream: ClientHttp2Stream,
  options: { body: RequestBody; onStatus?: StatusObserver },
): Promise<RelayResult> {
  const { body, onStatus } = options;
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

/** Forwards a request to an HTTP/1.1 app and its response back (trailers too, when chunked). */
export function relayH1(req: DownstreamRequest, res: DownstreamResponse, upstream: ClientRequest, onStatus?: StatusObserver): Promise<RelayResult> {
  req.pipe(upstream);
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  return new Promise((resolve) => {
    // Resolving twice is harmless; 'on' (not 'once') so a second error can't go unhandled.
    upstream.on('error', () => resolve({ responded: false, retriable: false }));
    upstream.once('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 502;
      onStatus?.(status);
      sendHead(res, status, forwardableResponseHeaders(response.headers), false);
      response.pipe(res, { end: false });
      response.once('end', () => finishResponse(res, forwardableResponseHeaders(response.trailers)));
      response.on('error', () => undefined);
      response.once('close', () => {
        if (!response.complete) abortResponse(res);
        resolve({ responded: true, retriable: false, status });
      });
    });
  });
}
