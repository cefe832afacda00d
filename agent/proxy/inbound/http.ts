import { IncomingMessage, ServerResponse } from 'node:http';
import type { SpiffeId } from '../../../shared/identity/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { ConnectionTracker } from '../listener/drain.js';
import { requestAuthority, requestPath, type DownstreamRequest, type DownstreamResponse } from '../http/downstream.js';
import { ProxyError, replyError } from '../http/errors.js';
import { parseMeshAuthority } from '../http/headers.js';
import type { LocalApps } from './local-apps.js';
import { peerOf } from './peer.js';
import { nextTraceparent } from '../http/trace.js';
import type { RequestObserver } from '../records.js';
import type { Authorize, LocalServices } from './types.js';
import { callerRefusal } from './callers.js';

/** What the inbound request handler needs. */
export interface InboundHttpDeps {
  readonly localServices: LocalServices;
  readonly authorize: Authorize;
  readonly apps: LocalApps;
  readonly tracker: ConnectionTracker;
  readonly logger: Logger;
  readonly onRequest: RequestObserver | undefined;
}

/** Reports a request from a verified caller once its response has closed, refusals (421, 403) included. */
function observe(
  deps: InboundHttpDeps,
  req: DownstreamRequest,
  res: DownstreamResponse,
  call: { readonly service: string; readonly caller: SpiffeId; readonly traceparent: string },
): void {
  const onRequest = deps.onRequest;
  if (onRequest === undefined) return;
  const startedAt = Date.now();
  res.once('close', () => {
    onRequest({
      direction: 'inbound',
      service: call.service,
      peerService: call.caller.name,
      peerSite: call.caller.site,
      protocol: 'http',
      method: req.method ?? '',
      path: requestPath(req),
      status: res.headersSent ? res.statusCode : 0,
      durationMs: Date.now() - startedAt,
      traceparent: call.traceparent,
      startedAt,
    });
  });
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
 * exported (else 403), the policy hook must allow it (else 403), and the app sees the
 * caller only through CALLER_HEADER, set here from the certificate.
 */
async function handle(deps: InboundHttpDeps, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const peer = peerOf(req.socket);
  if (peer === undefined) {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_FORBIDDEN', 'connection has no verified caller identity'));
    return;
  }
  const { service, caller } = peer;
  const traceparent = nextTraceparent(req.headers.traceparent);
  observe(deps, req, res, { service, caller, traceparent });
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
  if (!deps.authorize(caller, service)) {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_FORBIDDEN', `${caller.uri} may not call service "${service}"`));
    return;
  }
  if (app === undefined) {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_SERVICE_NOT_LOCAL', `service "${service}" has no app on this node`));
    return;
  }
  if (app.protocol === 'tcp') {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_UPSTREAM_PROTOCOL', `service "${service}" speaks tcp: call it through an upstream TCP port`));
    return;
  }
  await deps.apps.forward({ req, res, app, service, authority, caller: caller.uri, traceparent });
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
