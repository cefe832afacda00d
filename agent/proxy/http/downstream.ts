import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants, Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** A request as a proxy listener receives it: HTTP/1.1 or HTTP/2 (Node's compatibility API). */
export type DownstreamRequest = IncomingMessage | Http2ServerRequest;
export type DownstreamResponse = ServerResponse | Http2ServerResponse;

/** The authority a client addressed: `:authority` on HTTP/2 (or `host`), `Host` on HTTP/1.1. */
export function requestAuthority(req: DownstreamRequest): string | undefined {
  if (req instanceof Http2ServerRequest) return req.headers[':authority'] ?? req.headers.host;
  return req.headers.host;
}

/** The request target (path and query). */
export function requestPath(req: DownstreamRequest): string {
  if (req instanceof Http2ServerRequest) return req.headers[':path'] ?? '/';
  return req.url ?? '/';
}

/**
 * Whether the client already went away (closed its connection, or reset its HTTP/2 stream):
 * nothing can be answered, so nothing should be forwarded.
 */
export function callerGone(res: DownstreamResponse): boolean {
  return res instanceof Http2ServerResponse ? res.stream.closed : res.destroyed;
}

export function isGrpcRequest(req: DownstreamRequest): boolean {
  return String(req.headers['content-type'] ?? '').startsWith('application/grpc');
}

/**
 * Sends the response head. `endStream` with nothing to follow keeps a gRPC trailers-only
 * response (status in the only HEADERS frame) intact on HTTP/2, where a gRPC client reads it.
 */
export function sendHead(res: DownstreamResponse, status: number, headers: OutgoingHttpHeaders, endStream: boolean): void {
  if (res instanceof Http2ServerResponse) {
    if (endStream) {
      res.stream.respond({ ...headers, ':status': status }, { endStream: true });
      return;
    }
    res.writeHead(status, headers);
    return;
  }
  res.writeHead(status, headers);
  if (endStream) res.end();
}

/** Ends a response body, sending trailers when the client's protocol can carry them. */
export function finishResponse(res: DownstreamResponse, trailers: OutgoingHttpHeaders | undefined): void {
  if (res.writableEnded) return;
  if (trailers !== undefined && Object.keys(trailers).length > 0) res.addTrailers(trailers);
  res.end();
}

/**
 * Cuts a response that can no longer complete (the upstream failed mid-body): a reset stream
 * on HTTP/2, a closed connection on HTTP/1.1, so the client never takes it for a whole one.
 */
export function abortResponse(res: DownstreamResponse): void {
  if (res instanceof Http2ServerResponse) {
    if (!res.stream.destroyed) res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  res.destroy();
}
