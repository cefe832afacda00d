/**
 * Every error Meridian raises on purpose is a MeridianError: a stable `code` that scripts and
 * the status API can match on, an HTTP status for the APIs, a message that names the field or
 * file at fault, and the underlying `cause` when there is one.
 */
export interface MeridianErrorOptions {
  /** Underlying error, kept for diagnosis. */
  cause?: unknown;
  /** Structured details (for example the list of config violations). */
  details?: Readonly<Record<string, unknown>>;
}

export class MeridianError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: MeridianErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeridianError';
    this.code = code;
    this.statusCode = ERROR_STATUS[code];
    this.details = options.details;
  }

  /** JSON shape used by every HTTP API. */
  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Stable error codes and the HTTP status each maps to. */
export const ERROR_STATUS = {
  MERIDIAN_ERR_CONFIG_INVALID: 400,
  MERIDIAN_ERR_BAD_ARGUMENT: 400,
  MERIDIAN_ERR_SPIFFE_ID_INVALID: 400,
  MERIDIAN_ERR_TRUST_DOMAIN_MISMATCH: 403,
  MERIDIAN_ERR_SITE_SCOPE: 403,
  MERIDIAN_ERR_CSR_INVALID: 400,
  MERIDIAN_ERR_CERT_INVALID: 400,
  MERIDIAN_ERR_CERT_USAGE: 400,
  MERIDIAN_ERR_CERT_EXPIRED: 401,
  MERIDIAN_ERR_TRUST_DOCUMENT: 400,
  MERIDIAN_ERR_PEER_IDENTITY: 401,
  MERIDIAN_ERR_FILE_IO: 500,
  /** A secret file (a token) that group or others may read or write: refused rather than trusted. */
  MERIDIAN_ERR_FILE_PERMISSIONS: 500,
  MERIDIAN_ERR_BINARY_MISSING: 500,
  MERIDIAN_ERR_PROCESS_START: 500,
  MERIDIAN_ERR_TIMEOUT: 504,
  MERIDIAN_ERR_CATALOG_UNAVAILABLE: 503,
  MERIDIAN_ERR_NOT_FOUND: 404,
  MERIDIAN_ERR_CONFLICT: 409,
  MERIDIAN_ERR_INTERNAL: 500,
  MERIDIAN_ERR_FORBIDDEN: 403,
  MERIDIAN_ERR_BAD_GATEWAY: 502,
  MERIDIAN_ERR_UNAVAILABLE: 503,
  /** Data plane: the outbound listener only routes `<service>.mesh` authorities. */
  MERIDIAN_ERR_BAD_AUTHORITY: 400,
  /** Data plane, inbound: the authority names another service than the TLS session's SNI. */
  MERIDIAN_ERR_MISDIRECTED: 421,
  /** Data plane: the catalog has no instance of the service at all. */
  MERIDIAN_ERR_SERVICE_UNKNOWN: 502,
  /** Data plane: every attempt to connect to an instance failed. */
  MERIDIAN_ERR_UPSTREAM_CONNECT: 502,
  /** Data plane: the upstream reset the request or closed before answering. */
  MERIDIAN_ERR_UPSTREAM_RESET: 502,
  /** Data plane: the local app cannot speak what the caller asked for (HTTP to a TCP service). */
  MERIDIAN_ERR_UPSTREAM_PROTOCOL: 502,
  /** Data plane: instances exist, but none is usable (health, staleness, weight 0, no mesh port). */
  MERIDIAN_ERR_NO_HEALTHY_UPSTREAM: 503,
  /** Data plane, inbound: the SNI's service has no app on this node any more. */
  MERIDIAN_ERR_SERVICE_NOT_LOCAL: 503,
  /** Data plane: a malformed request (strict HTTP/1.1 parser, an unusable target) or an HTTP/2 client resetting streams in bulk. */
  MERIDIAN_ERR_BAD_REQUEST: 400,
  /** Data plane: a client that did not send its request headers within the headers timeout. */
  MERIDIAN_ERR_REQUEST_TIMEOUT: 408,
  /** Data plane: request headers over the listener's budget (bytes or fields), on HTTP/1.1 and HTTP/2 alike. */
  MERIDIAN_ERR_HEADERS_TOO_LARGE: 431,
  /** Data plane: a method the listener does not forward (CONNECT: the mesh listener is no tunnelling proxy). */
  MERIDIAN_ERR_METHOD_NOT_ALLOWED: 405,
  /** Data plane: a protocol switch (`Upgrade`, e.g. WebSocket) the listener cannot carry yet. */
  MERIDIAN_ERR_UPGRADE_UNSUPPORTED: 501,
  /** Consul-compatible API: an endpoint (or method) Meridian does not serve. */
  MERIDIAN_ERR_CONSUL_UNSUPPORTED: 501,
  /** Status API: no valid token or client certificate. */
  MERIDIAN_ERR_UNAUTHORIZED: 401,
  /** `meridian status`: the federation answered and is unhealthy (the CLI's exit status says so too). */
  MERIDIAN_ERR_UNHEALTHY: 503,
  /** Status reports: a report does not fit the NATS server's max_payload even with every list emptied. */
  MERIDIAN_ERR_STATUS_REPORT_TOO_LARGE: 500,
  /** The site's NATS server answers but has no JetStream (the catalog lives in JetStream). */
  MERIDIAN_ERR_JETSTREAM_DISABLED: 503,
  /** A site's catalog or status bucket is gone (a wiped store): its control service recreates it. */
  MERIDIAN_ERR_BUCKET_MISSING: 503,
  /** A configured listen port is taken by another process; the message names the config field. */
  MERIDIAN_ERR_PORT_IN_USE: 409,
  /** A start was cancelled (SIGTERM, an AbortSignal) before it completed; what had started is closed. */
  MERIDIAN_ERR_ABORTED: 503,
  /** `meridian ca rotate start` while a root rotation is already under way. */
  MERIDIAN_ERR_ROTATION_IN_PROGRESS: 409,
  /** `meridian ca rotate finish` (or a step of a rotation) when no root rotation was started. */
  MERIDIAN_ERR_ROTATION_NOT_STARTED: 409,
  /** `meridian ca rotate finish` while a site CA still chains to the old root, or was re-issued too recently. */
  MERIDIAN_ERR_ROTATION_INCOMPLETE: 409,
  /** Join: the token is malformed, unknown (never issued, revoked) or its secret does not match. */
  MERIDIAN_ERR_JOIN_TOKEN_INVALID: 401,
  /** Join: the token was already used (tokens are single-use). */
  MERIDIAN_ERR_JOIN_TOKEN_USED: 409,
  /** Join: the token's lifetime is over. */
  MERIDIAN_ERR_JOIN_TOKEN_EXPIRED: 401,
  /** Join: the token was made for another site than the control service it was sent to. */
  MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE: 403,
  /** Join: the token is bound to another node than the one asking. */
  MERIDIAN_ERR_JOIN_NODE_MISMATCH: 403,
  /** Join (agent side): the control service's CA does not match the token's CA hash; nothing was sent. */
  MERIDIAN_ERR_JOIN_CA_MISMATCH: 502,
  /** Too many failed attempts from one address, or in total: retry after the Retry-After seconds. */
  MERIDIAN_ERR_RATE_LIMITED: 429,
  /** A request body over the endpoint's limit. */
  MERIDIAN_ERR_BODY_TOO_LARGE: 413,
  /** A policy set with at least one violation: refused whole (details.violations lists each, with file, document and path). */
  MERIDIAN_ERR_POLICY_INVALID: 400,
  /** The identity or certificate is revoked by the policy set in force (the message names it and the policy version). */
  MERIDIAN_ERR_REVOKED: 403,
  /** Data plane, inbound: the policy set denies this caller this request or connection (the message names the rule). */
  MERIDIAN_ERR_POLICY_DENIED: 403,
  /** A policy apply based on a version that is no longer the latest (a concurrent apply won, or --expect-version is stale): nothing published. */
  MERIDIAN_ERR_POLICY_CONFLICT: 409,
  /** `meridian consul sync`: Consul did not answer (unreachable, timed out, a 5xx); the message names the URL and the call. */
  MERIDIAN_ERR_CONSUL_UNAVAILABLE: 503,
  /** `meridian consul sync`: Consul refused a call (4xx: an ACL token, a bad registration); the message names the call and Consul's answer. */
  MERIDIAN_ERR_CONSUL_REFUSED: 502,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** True when `err` is a MeridianError, optionally with the given code. */
export function isMeridianError(err: unknown, code?: ErrorCode): err is MeridianError {
  return err instanceof MeridianError && (code === undefined || err.code === code);
}
