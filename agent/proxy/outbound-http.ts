import { IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { ServiceInstance } from '../../shared/catalog/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { instanceKey, type Balancer } from './balancer.js';
import { DEFAULT_REPLAY_LIMIT, RequestBody } from './body.js';
import type { ConnectionTracker } from './drain.js';
import { requestAuthority, requestPath, type DownstreamRequest, type DownstreamResponse } from './downstream.js';
import { ProxyError, replyError } from './errors.js';
import { forwardableRequestHeaders, parseMeshAuthority } from './headers.js';
import { ConnectFailure } from './mesh-connect.js';
import type { MeshPool } from './mesh-pool.js';
import { relayH2 } from './relay.js';
import { SessionGone } from './session-pool.js';
import { nextTraceparent, TRACEPARENT } from './trace.js';
import type { RequestObserver } from './types.js';

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

/** One request on its way into the mesh. */
interface Call {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  readonly service: string;
  /** The HTTP/2 request head for the upstream (pseudo-headers included). */
  readonly headers: OutgoingHttpHeaders;
  readonly body: RequestBody;
  /** The site of the instance last tried: the one that answered, when one did. */
  site: string;
}

/** How an attempt on one instance ended. */
/**
 * `again`: the instance itself is fine (its session was going away: a refused stream, a session
 * closed under us), so the retry may use it again, on a fresh session.
 */
type Attempt = { readonly kind: 'done' } | { readonly kind: 'retry' | 'failed'; readonly error: ProxyError; readonly again?: boolean };

/**
 * One attempt on `instance`. Connect/TLS failures and refused streams are retriable: nothing
 * reached the application, so even a POST may go elsewhere. Any other failure is final.
 */
async function attempt(deps: OutboundHttpDeps, instance: ServiceInstance, call: Call): Promise<Attempt> {
  const { balancer } = deps;
  let stream;
  try {
    stream = await deps.pool.open(instance, call.headers);
  } catch (error) {
    if (error instanceof ConnectFailure) balancer.connectFailed(instance);
    if (error instanceof ConnectFailure || error instanceof SessionGone) {
      const again = error instanceof SessionGone;
      return { kind: 'retry', again, error: new ProxyError('MERIDIAN_ERR_UPSTREAM_CONNECT', `service "${call.service}": ${error.message}`, { cause: error }) };
    }
    throw error;
  }
  balancer.connected(instance);
  call.site = instance.site;
  const result = await relayH2(call.res, stream, { body: call.body, onStatus: (status) => balancer.responded(instance, status) });
  if (result.responded) return { kind: 'done' };
  const what = `instance ${instance.instanceId} of service "${call.service}" (site ${instance.site})`;
  if (result.retriable) {
    // A refusal is a draining peer being orderly, not a fault: no outlier penalty.
    return { kind: 'retry', again: true, error: new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `${what} refused the request`) };
  }
  balancer.responded(instance, 502);
  return { kind: 'failed', error: new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `${what} reset the request before answering`) };
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
      path: String(call.headers[':path']),
      status: call.res.headersSent ? call.res.statusCode : 0,
      durationMs: Date.now() - startedAt,
      traceparent: String(call.headers[TRACEPARENT]),
      startedAt,
    });
  });
}

/** Routes by authority `<service>.mesh`, builds the upstream head and forwards. */
async function handle(deps: OutboundHttpDeps, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
  const startedAt = Date.now();
  const authority = requestAuthority(req);
  const service = parseMeshAuthority(authority);
  if (authority === undefined || service === undefined) {
    const message = `authority "${String(authority)}" is not a mesh service: address calls to <service>.mesh`;
    replyError(req, res, new ProxyError('MERIDIAN_ERR_BAD_AUTHORITY', message));
    return;
  }
  const headers: OutgoingHttpHeaders = {
    ...forwardableRequestHeaders(req.headers),
    [TRACEPARENT]: nextTraceparent(req.headers.traceparent),
    ':method': req.method,
    ':path': requestPath(req),
    ':authority': authority,
    ':scheme': 'https',
  };
  const call: Call = { req, res, service, headers, body: new RequestBody(req, DEFAULT_REPLAY_LIMIT), site: '' };
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
