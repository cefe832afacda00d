import { abortResponse, isGrpcRequest, sendHead, type DownstreamRequest, type DownstreamResponse } from './downstream.js';

/**
 * Stable codes of the errors a proxy answers with, and their HTTP status. They follow the
 * `MERIDIAN_ERR_` convention of shared/errors; they live here because only the data plane emits them.
 */
export const PROXY_ERROR_STATUS = {
  /** The outbound listener only routes `<service>.mesh` authorities. */
  MERIDIAN_ERR_BAD_AUTHORITY: 400,
  MERIDIAN_ERR_FORBIDDEN: 403,
  /** Inbound: the authority names another service than the TLS session's SNI. */
  MERIDIAN_ERR_MISDIRECTED: 421,
  /** The catalog has no instance of the service at all. */
  MERIDIAN_ERR_SERVICE_UNKNOWN: 502,
  /** Every attempt to connect to an instance failed. */
  MERIDIAN_ERR_UPSTREAM_CONNECT: 502,
  /** The upstream reset the request or closed before answering. */
  MERIDIAN_ERR_UPSTREAM_RESET: 502,
  /** The local app cannot speak what the caller asked for (HTTP to a TCP service). */
  MERIDIAN_ERR_UPSTREAM_PROTOCOL: 502,
  /** Instances exist, but none is usable (health, staleness, weight 0, no mesh port). */
  MERIDIAN_ERR_NO_HEALTHY_UPSTREAM: 503,
  /** Inbound: the SNI's service has no app on this node any more. */
  MERIDIAN_ERR_SERVICE_NOT_LOCAL: 503,
} as const satisfies Record<string, number>;

export type ProxyErrorCode = keyof typeof PROXY_ERROR_STATUS;

/** An error a proxy answers a request with. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly statusCode: number;

  constructor(code: ProxyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProxyError';
    this.code = code;
    this.statusCode = PROXY_ERROR_STATUS[code];
  }
}

/** gRPC status for an HTTP status (the gRPC spec's HTTP-to-gRPC mapping, plus 421 → internal). */
function grpcStatusOf(httpStatus: number): number {
  if (httpStatus === 403) return 7; // PERMISSION_DENIED
  if (httpStatus === 502 || httpStatus === 503 || httpStatus === 504) return 14; // UNAVAILABLE
  return 13; // INTERNAL
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
      { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatusOf(error.statusCode)), 'grpc-message': encodeURIComponent(error.message) },
      true,
    );
    return;
  }
  const body = JSON.stringify({ code: error.code, message: error.message });
  sendHead(res, error.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, false);
  res.end(body);
}
