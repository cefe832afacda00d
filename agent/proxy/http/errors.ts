import type { Duplex } from 'node:stream';
import { STATUS_CODES, type OutgoingHttpHeaders } from 'node:http';
import { MeridianError, type ErrorCode } from '../../../shared/errors/index.js';
import { abortResponse, isGrpcRequest, sendHead, type DownstreamRequest, type DownstreamResponse } from './downstream.js';

/** The codes a proxy answers requests with (their HTTP status is in shared/errors ERROR_STATUS). */
export type ProxyErrorCode = Extract<
  ErrorCode,
  | 'MERIDIAN_ERR_BAD_AUTHORITY'
  | 'MERIDIAN_ERR_FORBIDDEN'
  | 'MERIDIAN_ERR_POLICY_DENIED'
  | 'MERIDIAN_ERR_MISDIRECTED'
  | 'MERIDIAN_ERR_SERVICE_UNKNOWN'
  | 'MERIDIAN_ERR_UPSTREAM_CONNECT'
  | 'MERIDIAN_ERR_UPSTREAM_RESET'
  | 'MERIDIAN_ERR_UPSTREAM_PROTOCOL'
  | 'MERIDIAN_ERR_NO_HEALTHY_UPSTREAM'
  | 'MERIDIAN_ERR_SERVICE_NOT_LOCAL'
  | 'MERIDIAN_ERR_BAD_REQUEST'
  | 'MERIDIAN_ERR_REQUEST_TIMEOUT'
  | 'MERIDIAN_ERR_HEADERS_TOO_LARGE'
  | 'MERIDIAN_ERR_METHOD_NOT_ALLOWED'
  | 'MERIDIAN_ERR_UPGRADE_UNSUPPORTED'
  | 'MERIDIAN_ERR_RATE_LIMITED'
>;

/** An error a proxy answers a request with. */
export class ProxyError extends MeridianError {
  declare readonly code: ProxyErrorCode;
  /** Seconds a rate-limited caller should wait (the `retry-after` header of a 429). */
  readonly retryAfterS: number | undefined;

  constructor(code: ProxyErrorCode, message: string, options: { cause?: unknown; retryAfterS?: number } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'ProxyError';
    this.retryAfterS = options.retryAfterS;
  }
}

/** Every method the listeners forward: all but CONNECT. A 405 must name them (RFC 9110 §15.5.6). */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH';

/** Headers a refusal's status calls for besides the JSON body's own. */
function refusalHeaders(error: ProxyError): OutgoingHttpHeaders | undefined {
  if (error.code === 'MERIDIAN_ERR_RATE_LIMITED') return { 'retry-after': String(error.retryAfterS ?? 1) };
  return error.code === 'MERIDIAN_ERR_METHOD_NOT_ALLOWED' ? { allow: ALLOWED_METHODS } : undefined;
}

/** gRPC status for an HTTP status (the gRPC spec's HTTP-to-gRPC mapping, plus 421 → internal and 429 → resource exhausted). */
function grpcStatusOf(httpStatus: number): number {
  if (httpStatus === 403) return 7; // PERMISSION_DENIED
  if (httpStatus === 429) return 8; // RESOURCE_EXHAUSTED
  if (httpStatus === 502 || httpStatus === 503 || httpStatus === 504) return 14; // UNAVAILABLE
  return 13; // INTERNAL
}

/**
 * A grpc-message value as the gRPC spec percent-encodes it: only bytes outside printable ASCII,
 * and '%'. Clients decode it with decodeURI, which leaves `%3A` or `%2F` as they are, so
 * encodeURIComponent's output would reach the caller still encoded.
 */
export function grpcMessage(message: string): string {
  return message.replace(/[^\x20-\x24\x26-\x7e]+/gu, (run) => encodeURIComponent(run));
}

/**
 * Answers a request with a proxy error: a JSON body `{ code, message }`, or for gRPC callers a
 * trailers-only response, so their stubs see UNAVAILABLE / PERMISSION_DENIED with the message
 * rather than a bare HTTP status. Once the head is out, the only honest signal is a reset.
 */
export function replyError(req: DownstreamRequest, res: DownstreamResponse, error: ProxyError): void {
  if (res.headersSent) {
    abortResponse(res);
    return;
  }
  if (isGrpcRequest(req)) {
    sendHead(
      res,
      200,
      { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatusOf(error.statusCode)), 'grpc-message': grpcMessage(error.message) },
      true,
    );
    return;
  }
  const body = JSON.stringify({ code: error.code, message: error.message });
  sendHead(res, error.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...refusalHeaders(error) }, false);
  res.end(body);
}

/**
 * The same answer as {@link replyError}, as raw HTTP/1.1 bytes that close the connection: for
 * a socket Node's HTTP server has given up on (a head it could not parse, a CONNECT), where
 * there is no response object to write to.
 */
export function rawErrorResponse(error: ProxyError): string {
  const body = JSON.stringify({ code: error.code, message: error.message });
  const allow = refusalHeaders(error)?.allow;
  return (
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode] ?? ''}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    (allow === undefined ? '' : `allow: ${String(allow)}\r\n`) +
    `connection: close\r\n\r\n${body}`
  );
}

/** How long a client refused on a bare socket has to read its answer before the socket is cut. */
const RAW_ANSWER_LINGER_MS = 1_000;

/**
 * Answers `error` on a bare socket and closes it; a client that does not read its answer does
 * not hold the socket longer than {@link RAW_ANSWER_LINGER_MS}.
 */
export function refuseRawSocket(socket: Duplex, error: ProxyError): void {
  socket.end(rawErrorResponse(error));
  setTimeout(() => socket.destroy(), RAW_ANSWER_LINGER_MS).unref();
}
