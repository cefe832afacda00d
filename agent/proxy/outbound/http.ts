import { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest } from 'node:http2';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type ServiceInstance, instanceKey } from '../../../shared/catalog/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { Balancer } from './balancer.js';
import { DEFAULT_REPLAY_LIMIT, RequestBody } from '../http/body.js';
import type { ConnectionTracker } from '../listener/drain.js';
import { callerGone, type DownstreamRequest, type DownstreamResponse } from '../http/downstream.js';
import { ProxyError, replyError } from '../http/errors.js';
import { headerBudgetError, upgradeError } from '../http/limits.js';
import { meshTargetOf, type MeshTarget } from '../http/target.js';
import type { ResetGuard } from '../listener/reset-guard.js';
import type { MeshPool } from '../transport/mesh-pool.js';
import { attempt, type Call } from './attempt.js';
import { nextTraceparent, traceparentText } from '../http/trace.js';
import type { RequestObserver } from '../records.js';

/** What the outbound request handler needs. */
export interface OutboundHttpDeps {
  readonly balancer: Balancer;
  readonly pool: MeshPool;
  readonly maxAttempts: number;
  readonly tracker: ConnectionTracker;
  readonly logger: Logger;
  /** The calling local service, for the request records. */
  readonly service: string;
  readonly onRequest: RequestObserver | undefined;
  /** HTTP/2 sessions whose client resets streams before their answer. */
  readonly resets: ResetGuard;
}

/** Tries up to `maxAttempts` instances; resolves with the error to answer, or undefined when answered. */
async function forward(deps: OutboundHttpDeps, call: Call): Promise<ProxyError | undefined> {
  const tried = new Set<string>();
  let last: ProxyError | undefined;
  for (let n = 0; n < deps.maxAttempts && !callerGone(call.res); n++) {
    let instance: ServiceInstance;
    try {
      instance = deps.balancer.pick(call.service, tried);
    } catch (error) {
      // Out of instances after a failed attempt: the connect error says more than "none left".
      if (last !== undefined) return last;
      throw error;
    }
    tried.add(instanceKey(instance));
    deps.balancer.begin(instance);
    try {
      const outcome = await attempt(deps, instance, call);
      if (outcome.kind === 'done') return undefined;
      last = outcome.error;
      if (outcome.kind === 'failed') return last;
      if (outcome.again === true) tried.delete(instanceKey(instance));
    } finally {
      deps.balancer.end(instance);
    }
  }
  return last;
}

/** Reports the request once its response has closed. */
function observe(deps: OutboundHttpDeps, call: Call, startedAt: number): void {
  const onRequest = deps.onRequest;
  if (onRequest === undefined) return;
  call.res.once('close', () => {
    onRequest({
      direction: 'outbound',
      service: deps.service,
      peerService: call.service,
      peerSite: call.site,
      protocol: 'http',
      method: call.req.method ?? '',
      path: call.path,
      status: call.res.headersSent ? call.res.statusCode : 0,
      durationMs: Date.now() - startedAt,
      traceparent: call.traceparent,
      incomingTraceparent: traceparentText(call.req.headers.traceparent),
      startedAt,
    });
  });
}

/**
 * Where the request goes, or the refusal it gets: over the header budget (431), an Upgrade the
 * mesh cannot carry (501), an authority that is ambiguous or names no mesh service (400).
 */
function admit(req: DownstreamRequest, res: DownstreamResponse): MeshTarget | ProxyError {
  const tooLarge = headerBudgetError(req);
  if (tooLarge !== undefined) return tooLarge;
  if (res instanceof ServerResponse) {
    const upgrade = upgradeError(req);
    if (upgrade !== undefined) {
      // The client may follow up in the protocol it asked for: nothing more is read on this connection.
      res.shouldKeepAlive = false;
      return upgrade;
    }
  }
  return meshTargetOf(req);
}

/**
 * Whether the request comes on an HTTP/2 session whose client reset streams lately: one
 * event-loop turn passes before it is forwarded, so that a reset pipelined right behind its
 * HEADERS (nghttp2 reports it after the request) is seen before any upstream stream opens.
 */
function suspect(deps: OutboundHttpDeps, req: DownstreamRequest): boolean {
  return req instanceof Http2ServerRequest && deps.resets.suspect(req.stream.session);
}

/** Routes by authority `<service>.mesh` and forwards. */
async function handle(deps: OutboundHttpDeps, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const startedAt = Date.now();
  const target = admit(req, res);
  if (target instanceof ProxyError) {
    replyError(req, res, target);
    return;
  }
  if (suspect(deps, req)) await nextTurn();
  // Never forward for a caller that already left: nobody would read the answer.
  if (callerGone(res)) return;
  const call: Call = {
    req,
    res,
    service: target.service,
    authority: target.authority,
    path: target.path,
    traceparent: nextTraceparent(req.headers.traceparent),
    body: new RequestBody(req, DEFAULT_REPLAY_LIMIT),
    site: '',
  };
  observe(deps, call, startedAt);
  const error = await forward(deps, call);
  if (error !== undefined) replyError(req, res, error);
}

/** The outbound listener's 'request' handler, for HTTP/1.1 and h2c alike. */
export function outboundRequestHandler(deps: OutboundHttpDeps): (req: DownstreamRequest, res: DownstreamResponse) => void {
  return (req, res) => {
    if (req instanceof IncomingMessage) {
      deps.tracker.requestStarted(req.socket);
      res.once('close', () => deps.tracker.requestFinished(req.socket));
    }
    handle(deps, req, res).catch((error: unknown) => {
      if (!(error instanceof ProxyError)) deps.logger.error('outbound request failed', { error: String(error) });
      replyError(req, res, error instanceof ProxyError ? error : new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', 'internal proxy error'));
    });
  };
}
