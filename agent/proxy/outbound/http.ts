import { IncomingMessage } from 'node:http';
import { type ServiceInstance, instanceKey } from '../../../shared/catalog/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { Balancer } from './balancer.js';
import { DEFAULT_REPLAY_LIMIT, RequestBody } from '../http/body.js';
import type { ConnectionTracker } from '../listener/drain.js';
import { requestAuthority, requestPath, type DownstreamRequest, type DownstreamResponse } from '../http/downstream.js';
import { ProxyError, replyError } from '../http/errors.js';
import { parseMeshAuthority } from '../http/headers.js';
import type { MeshPool } from '../transport/mesh-pool.js';
import { attempt, type Call } from './attempt.js';
import { nextTraceparent } from '../http/trace.js';
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
}

/** Tries up to `maxAttempts` instances; resolves with the error to answer, or undefined when answered. */
async function forward(deps: OutboundHttpDeps, call: Call): Promise<ProxyError | undefined> {
  const tried = new Set<string>();
  let last: ProxyError | undefined;
  for (let n = 0; n < deps.maxAttempts && !call.res.destroyed; n++) {
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
      startedAt,
    });
  });
}

/** Routes by authority `<service>.mesh` and forwards. */
async function handle(deps: OutboundHttpDeps, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const startedAt = Date.now();
  const authority = requestAuthority(req);
  const service = parseMeshAuthority(authority);
  if (authority === undefined || service === undefined) {
    const message = `authority "${String(authority)}" is not a mesh service: address calls to <service>.mesh`;
    replyError(req, res, new ProxyError('MERIDIAN_ERR_BAD_AUTHORITY', message));
    return;
  }
  const call: Call = {
    req,
    res,
    service,
    authority,
    path: requestPath(req),
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
