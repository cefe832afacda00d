import { IncomingMessage, ServerResponse } from 'node:http';
import type { SpiffeId } from '../../../shared/identity/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { ConnectionTracker } from '../listener/drain.js';
import { requestAuthority, requestPath, type DownstreamRequest, type DownstreamResponse } from '../http/downstream.js';
import { ProxyError, replyError } from '../http/errors.js';
import { parseMeshAuthority } from '../http/headers.js';
import type { LocalApps } from './local-apps.js';
import { peerOf } from './peer.js';
import { nextTraceparent, traceparentText } from '../http/trace.js';
import type { RequestObserver } from '../records.js';
import type { LocalServices } from './types.js';
import { callerRefusal } from './callers.js';
import type { EncodedSlashAction, EnforcedPolicy, LivePolicy } from '../../../shared/policy/index.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { decideHttp, denialMessage, judgeTarget, PATH_REJECTED_RULE, type JudgedTarget } from './policy.js';

/** What the inbound request handler needs. */
export interface InboundHttpDeps {
  readonly localServices: LocalServices;
  readonly policy: LivePolicy;
  readonly encodedSlashes: EncodedSlashAction;
  readonly apps: LocalApps;
  readonly tracker: ConnectionTracker;
  readonly logger: Logger;
  readonly onRequest: RequestObserver | undefined;
  /** Enforces the policy's RateLimit documents once a request is authorized. */
  readonly limiter: RateLimiter;
}

/**
 * One request's state, filled as it is judged: `target` the path and query (normalised once
 * judged, what the app receives and the access log shows), `rule` the rule that refused it.
 */
interface Call extends JudgedTarget {
  readonly service: string;
  readonly caller: SpiffeId;
  readonly traceparent: string;
  rule: string | undefined;
  /** The rate limit that refused the request (429). */
  limit: string | undefined;
}

/** Reports a request from a verified caller once its response has closed, refusals (400, 421, 403) included. */
function observe(deps: InboundHttpDeps, req: DownstreamRequest, res: DownstreamResponse, call: Call): void {
  const onRequest = deps.onRequest;
  if (onRequest === undefined) return;
  const startedAt = Date.now();
  res.once('close', () => {
    const record = {
      direction: 'inbound' as const,
      service: call.service,
      peerService: call.caller.name,
      peerSite: call.caller.site,
      protocol: 'http' as const,
      method: req.method ?? '',
      path: call.target,
      status: res.headersSent ? res.statusCode : 0,
      durationMs: Date.now() - startedAt,
      traceparent: call.traceparent,
      incomingTraceparent: traceparentText(req.headers.traceparent),
      startedAt,
    };
    if (call.limit !== undefined) onRequest({ ...record, rateLimit: call.limit });
    else onRequest(call.rule === undefined ? record : { ...record, policyRule: call.rule });
  });
}

/**
 * Normalises the request target and asks the policy; false when the request was refused (400
 * for a target normalisation refuses, 403 for a denial naming the rule). The policy is read
 * once: a request is judged whole by one version.
 */
function authorized(deps: InboundHttpDeps, policy: EnforcedPolicy, req: DownstreamRequest, res: DownstreamResponse, call: Call): boolean {
  const rejected = judgeTarget(call.target, deps.encodedSlashes, call);
  if (rejected !== undefined) {
    call.rule = PATH_REJECTED_RULE;
    replyError(req, res, new ProxyError('MERIDIAN_ERR_BAD_REQUEST', `request target refused: ${rejected.reason}`));
    return false;
  }
  const method = req.method ?? '';
  const decision = decideHttp(policy, call.caller, call.service, method, call.path, req.headers);
  if (decision.allowed) return true;
  call.rule = decision.rule;
  replyError(req, res, new ProxyError('MERIDIAN_ERR_POLICY_DENIED', denialMessage(call.caller.uri, call.service, `${method} ${call.path}`, decision, policy.version)));
  return false;
}

/** Asks the limiter about an authorized request; false when a limit refused it (429 with retry-after). */
async function admitted(deps: InboundHttpDeps, policy: EnforcedPolicy, req: DownstreamRequest, res: DownstreamResponse, call: Call): Promise<boolean> {
  const limits = policy.limits.forService(call.service);
  if (limits.length === 0) return true;
  const refusal = await deps.limiter.admit(limits, call.caller, req.method ?? '', call.path);
  if (refusal === undefined) return true;
  call.limit = refusal.limit;
  replyError(req, res, new ProxyError('MERIDIAN_ERR_RATE_LIMITED', refusal.message, { retryAfterS: refusal.retryAfterS }));
  return false;
}

/** Whether a request's authority names `service`: the common exact `<service>.mesh` without a regex. */
function namesService(authority: string | undefined, service: string): boolean {
  if (authority === undefined) return false;
  const exact = authority.length === service.length + 5 && authority.startsWith(service) && authority.endsWith('.mesh');
  return exact || parseMeshAuthority(authority) === service;
}

/**
 * Checks one request against its connection's verified identity and hands it to the local
 * app: the authority must name the SNI's service (else 421, so a session for one service
 * can't reach another), the caller must be a workload, of this site unless the service is
 * exported (else 403), its target must normalise (else 400), the policy allow it (else 403) and
 * its rate limits admit it (else 429), and the app receives the normalised target the policy judged, and the caller only through
 * CALLER_HEADER, set here from the certificate.
 */
async function handle(deps: InboundHttpDeps, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const peer = peerOf(req.socket);
  if (peer === undefined) {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_FORBIDDEN', 'connection has no verified caller identity'));
    return;
  }
  const { service, caller } = peer;
  const traceparent = nextTraceparent(req.headers.traceparent);
  const raw = requestPath(req);
  const call: Call = { service, caller, traceparent, rule: undefined, limit: undefined, path: raw, target: raw };
  observe(deps, req, res, call);
  const authority = requestAuthority(req);
  if (authority === undefined || !namesService(authority, service)) {
    const message = `authority "${String(authority)}" does not name service "${service}" of this TLS session (expected ${service}.mesh)`;
    replyError(req, res, new ProxyError('MERIDIAN_ERR_MISDIRECTED', message));
    return;
  }
  const app = deps.localServices(service);
  const refusal = callerRefusal(peer, app?.exported === true);
  if (refusal !== undefined) {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_FORBIDDEN', refusal));
    return;
  }
  // Read once: a request is judged whole (authorization and rate limits) by one version.
  const policy = deps.policy.current;
  if (!authorized(deps, policy, req, res, call)) return;
  if (!(await admitted(deps, policy, req, res, call))) return;
  if (app === undefined) {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_SERVICE_NOT_LOCAL', `service "${service}" has no app on this node`));
    return;
  }
  if (app.protocol === 'tcp') {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_UPSTREAM_PROTOCOL', `service "${service}" speaks tcp: call it through an upstream TCP port`));
    return;
  }
  await deps.apps.forward({ req, res, app, service, authority, target: call.target, caller: caller.uri, traceparent });
}

/**
 * Counts an HTTP/1.1 request on its connection for the drain; false when the drain already
 * ended that connection: the request is not taken (a caller retries a request on a reused
 * connection that closed unanswered), as an answer could no longer be sent anyway.
 */
function trackHttp1(deps: InboundHttpDeps, req: IncomingMessage, res: ServerResponse): boolean {
  const socket = req.socket;
  if (socket.writableEnded) {
    socket.destroy();
    return false;
  }
  deps.tracker.requestStarted(socket);
  res.once('close', () => deps.tracker.requestFinished(socket));
  // Draining: tell the caller not to reuse this connection, rather than racing its next request.
  if (deps.tracker.isDraining) res.shouldKeepAlive = false;
  return true;
}

/** The listener's 'request' handler, for HTTP/1.1 and HTTP/2 alike. */
export function inboundRequestHandler(deps: InboundHttpDeps): (req: DownstreamRequest, res: DownstreamResponse) => void {
  return (req, res) => {
    if (req instanceof IncomingMessage && res instanceof ServerResponse && !trackHttp1(deps, req, res)) return;
    handle(deps, req, res).catch((error: unknown) => {
      deps.logger.error('inbound request failed', { error: String(error) });
      replyError(req, res, new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', 'internal proxy error'));
    });
  };
}
