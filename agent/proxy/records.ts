/**
 * One finished request (or TCP connection) as a proxy saw it: the feed of metrics, access logs
 * and the status API's service graph. Called once, when the downstream response has closed.
 */
export interface RequestRecord {
  readonly direction: 'outbound' | 'inbound';
  /** The local service: the caller (outbound) or the callee (inbound). */
  readonly service: string;
  /** The other side's service: the destination (outbound) or the verified caller (inbound). */
  readonly peerService: string;
  /** The other side's site: the answering instance's (outbound; '' when none answered) or the caller's (inbound). */
  readonly peerSite: string;
  readonly protocol: 'http' | 'tcp';
  /** HTTP method and path; '' for TCP. */
  readonly method: string;
  readonly path: string;
  /**
   * The status sent downstream; 0 when the request was reset before a response. TCP: 0, or for
   * a connection the inbound refused 403 (the caller) or 502 (the app was unreachable).
   */
  readonly status: number;
  /** From the request's arrival to the response's close. */
  readonly durationMs: number;
  /** The traceparent sent on (HTTP only): this hop's span id, the parent of the next hop's. */
  readonly traceparent: string;
  /**
   * The traceparent the request arrived with, unparsed ('' when none, and for TCP): its span id
   * is the parent of this hop's when `traceparent` continued its trace. A reference to the header
   * string, so recording it costs nothing; only the tracer parses it.
   */
  readonly incomingTraceparent: string;
  /** Epoch milliseconds of the request's arrival. */
  readonly startedAt: number;
  /**
   * Inbound refusals only: the policy rule that denied the call (`<Authorization>/rules/<n>` or
   * `default`), `path-normalization` for a refused request target, `revocation` for a revoked caller.
   */
  readonly policyRule?: string;
  /** Inbound only: the RateLimit document that refused the request (429). */
  readonly rateLimit?: string;
}

/** Receives each finished request; must be cheap and must not throw. */
export type RequestObserver = (record: RequestRecord) => void;

/** The record of a finished TCP connection: no method, path or trace; status 0 unless refused. */
export function tcpRecord(
  parts: Pick<RequestRecord, 'direction' | 'service' | 'peerService' | 'peerSite' | 'startedAt'> & { status?: number; policyRule?: string },
): RequestRecord {
  return { status: 0, ...parts, protocol: 'tcp', method: '', path: '', durationMs: Date.now() - parts.startedAt, traceparent: '', incomingTraceparent: '' };
}
