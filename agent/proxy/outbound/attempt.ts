import { IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { ServiceInstance } from '../../../shared/catalog/index.js';
import type { Balancer } from './balancer.js';
import type { RequestBody } from '../http/body.js';
import type { DownstreamRequest, DownstreamResponse } from '../http/downstream.js';
import { ProxyError } from '../http/errors.js';
import { forwardableRequestHeaders, h1RequestHead } from '../http/headers.js';
import { ConnectFailure } from '../transport/mesh-connect.js';
import type { MeshPool } from '../transport/mesh-pool.js';
import { forwardH1Response, forwardH2Response, type ForwardResult } from '../http/response.js';
import { SessionGone } from '../transport/session-pool.js';
import { TRACEPARENT } from '../http/trace.js';
import { MeridianError } from '../../../shared/errors/index.js';
import { APP_REFUSED_H2_CODE, AppRefused, appRefusal } from '../transport/refusal.js';

/** One request on its way into the mesh. */
export interface Call {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  readonly service: string;
  readonly authority: string;
  /** The request target (path and query). */
  readonly path: string;
  /** The traceparent sent on. */
  readonly traceparent: string;
  readonly body: RequestBody;
  /** The site of the instance last tried: the one that answered, when one did. */
  site: string;
}

/**
 * How an attempt on one instance ended. `again`: the instance itself is fine (its connection
 * was going away: a refused stream, a session or keep-alive connection closed under us), so
 * the retry may use it again, on a fresh connection.
 */
export type Attempt = { readonly kind: 'done' } | { readonly kind: 'retry' | 'failed'; readonly error: ProxyError; readonly again?: boolean };

/** What an attempt needs of the outbound proxy. */
export interface AttemptDeps {
  readonly balancer: Balancer;
  readonly pool: MeshPool;
}

/**
 * One attempt on `instance`: an HTTP/1.1 request from the app goes through as HTTP/1.1 when the
 * instance's app speaks it (no translation at either agent); everything else rides the
 * instance's pooled HTTP/2 session.
 */
export function attempt(deps: AttemptDeps, instance: ServiceInstance, call: Call): Promise<Attempt> {
  return call.req instanceof IncomingMessage && instance.protocol === 'http' ? attemptH1(deps, instance, call) : attemptH2(deps, instance, call);
}

function describe(instance: ServiceInstance, call: Call): string {
  return `instance ${instance.instanceId} of service "${call.service}" (site ${instance.site})`;
}

function connectRetry(call: Call, error: Error, again = false): Attempt {
  return { kind: 'retry', again, error: new ProxyError('MERIDIAN_ERR_UPSTREAM_CONNECT', `service "${call.service}": ${error.message}`, { cause: error }) };
}

/**
 * The instance's agent answered that its app refused the connection: nothing was processed and
 * the instance can't serve, so it is ejected at once and the request goes elsewhere, like after
 * a failed connect (when the body can still be replayed).
 */
function appDown(deps: AttemptDeps, instance: ServiceInstance, call: Call): Attempt {
  deps.balancer.appUnreachable(instance);
  const error = new ProxyError('MERIDIAN_ERR_UPSTREAM_CONNECT', `service "${call.service}": ${describe(instance, call)} could not reach its app: the request was not processed`);
  if (!call.body.replayable) return { kind: 'failed', error };
  call.body.detach();
  return { kind: 'retry', error };
}

/**
 * Connect/TLS failures, refused streams and app refusals are retriable: nothing reached the
 * application, so even a POST may go elsewhere. Any other failure is final.
 */
async function attemptH2(deps: AttemptDeps, instance: ServiceInstance, call: Call): Promise<Attempt> {
  const { balancer } = deps;
  const headers: OutgoingHttpHeaders = {
    ...forwardableRequestHeaders(call.req.headers),
    [TRACEPARENT]: call.traceparent,
    ':method': call.req.method,
    ':path': call.path,
    ':authority': call.authority,
    ':scheme': 'https',
  };
  let stream;
  try {
    stream = await deps.pool.open(instance, headers);
  } catch (error) {
    if (error instanceof ConnectFailure) balancer.connectFailed(instance);
    if (error instanceof ConnectFailure) return connectRetry(call, error);
    if (error instanceof SessionGone) return connectRetry(call, error, true);
    throw error;
  }
  balancer.connected(instance);
  call.site = instance.site;
  const result = await forwardH2Response(call.res, stream, { body: call.body, onStatus: (status) => balancer.responded(instance, status) });
  if (result.responded) return { kind: 'done' };
  if (result.retriable) {
    // A refusal is a draining peer being orderly, not a fault: no outlier penalty.
    return { kind: 'retry', again: true, error: new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `${describe(instance, call)} refused the request`) };
  }
  if (stream.rstCode === APP_REFUSED_H2_CODE) return appDown(deps, instance, call);
  balancer.responded(instance, 502);
  return { kind: 'failed', error: new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `${describe(instance, call)} reset the request before answering`) };
}

/**
 * Under TLS 1.3 the client finishes its handshake before the server has judged its
 * certificate, so a refusal arrives as an alert on the first request of a new connection:
 * nothing reached the application, like a failed connect.
 */
function refusedHandshake(result: ForwardResult, reused: boolean): boolean {
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  return !reused && typeof code === 'string' && code.startsWith('ERR_SSL_');
}

/**
 * Connect/TLS failures and app refusals are retriable on another instance; a pooled keep-alive
 * connection that closed before any response byte (the destination let it go as we sent) is
 * retriable on the same instance, when the body can be replayed. Any other failure is final.
 */
async function attemptH1(deps: AttemptDeps, instance: ServiceInstance, call: Call): Promise<Attempt> {
  const { balancer } = deps;
  const headers = h1RequestHead(call.req, ['host', call.authority, TRACEPARENT, call.traceparent]);
  const upstream = deps.pool.requestH1(instance, { method: call.req.method ?? 'GET', path: call.path, headers });
  call.site = instance.site;
  const result = await forwardH1Response(call.res, upstream, { body: call.body, onStatus: (status) => balancer.responded(instance, status), refusal: appRefusal });
  if (result.responded) {
    balancer.connected(instance);
    return { kind: 'done' };
  }
  const error = result.error ?? new MeridianError('MERIDIAN_ERR_UPSTREAM_RESET', 'connection closed');
  if (error instanceof AppRefused) return appDown(deps, instance, call);
  if (error instanceof ConnectFailure || (refusedHandshake(result, upstream.reusedSocket) && call.body.replayable)) {
    call.body.detach();
    balancer.connectFailed(instance);
    return connectRetry(call, error);
  }
  balancer.connected(instance);
  if (result.retriable) {
    deps.pool.closeIdleH1(instance);
    return { kind: 'retry', again: true, error: new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `${describe(instance, call)} closed a pooled connection before answering`) };
  }
  balancer.responded(instance, 502);
  return { kind: 'failed', error: new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `${describe(instance, call)} reset the request before answering`) };
}
