import http from 'node:http';
import http2, { Http2ServerResponse, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import { CALLER_HEADER } from '../../../shared/mesh/index.js';
import { DEFAULT_REPLAY_LIMIT, RequestBody } from '../http/body.js';
import type { DownstreamRequest, DownstreamResponse } from '../http/downstream.js';
import { ProxyError, replyError } from '../http/errors.js';
import { forwardableRequestHeaders, h1RequestHead } from '../http/headers.js';
import { forwardH1Response, forwardH2Response, type ForwardResult } from '../http/response.js';
import { SessionGone, SessionPool } from '../transport/session-pool.js';
import { TRACEPARENT } from '../http/trace.js';
import type { LocalService } from './types.js';
import { APP_REFUSED_CONNECTION, APP_REFUSED_H2_CODE, APP_REFUSED_STATUS } from '../transport/refusal.js';

/** A request on its way to a local app, already checked against the caller's verified identity. */
export interface AppRequest {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  readonly app: LocalService;
  readonly service: string;
  readonly authority: string;
  /** The normalised request target (path and query): the one the policy judged, sent instead of the caller's spelling. */
  readonly target: string;
  /**
   * The verified caller's SPIFFE ID: the app's CALLER_HEADER, replacing any identity header the
   * request carried. Undefined for a plaintext caller of a permissive service: no CALLER_HEADER.
   */
  readonly caller: string | undefined;
  readonly traceparent: string;
}

function hostPort(app: LocalService): string {
  return net.isIPv6(app.address) ? `[${app.address}]:${app.port}` : `${app.address}:${app.port}`;
}

/** An h2c (prior knowledge) session to a local HTTP/2 or gRPC app. */
function connectH2c(app: LocalService): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${hostPort(app)}`);
    // Errors after connect are seen by the pool through 'close'; this only keeps them from crashing.
    session.on('error', () => undefined);
    session.once('connect', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** Whether an HTTP/1.1 attempt failed before its connection was up (the app refused it, or is not there). */
function neverSent(error: Error | undefined): boolean {
  const syscall = (error as NodeJS.ErrnoException | undefined)?.syscall;
  return syscall === 'connect' || syscall === 'getaddrinfo';
}

/**
 * Tells the calling agent its request did not reach the app, so it may go elsewhere: an HTTP/2
 * stream is reset with APP_REFUSED_H2_CODE; on HTTP/1.1 a 502 names the refusal in its
 * `Connection` header (other clients read the usual JSON error).
 */
function refuseUnsent(res: DownstreamResponse, message: string): void {
  if (res instanceof Http2ServerResponse) {
    if (!res.stream.closed) res.stream.close(APP_REFUSED_H2_CODE);
    return;
  }
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ code: 'MERIDIAN_ERR_UPSTREAM_CONNECT', message });
  res.writeHead(APP_REFUSED_STATUS, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: APP_REFUSED_CONNECTION });
  res.end(body);
}

/**
 * The inbound proxy's way to the apps on this node: HTTP/1.1 apps through a keep-alive agent,
 * HTTP/2 and gRPC apps through pooled h2c sessions; bodies and trailers streamed both ways.
 */
export class LocalApps {
  private readonly agent: http.Agent;
  private readonly h2c: SessionPool<LocalService>;

  constructor(options: { idleMs: number }) {
    this.agent = new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: options.idleMs });
    this.h2c = new SessionPool({ connect: connectH2c, maxStreamsPerSession: 100, idleMs: options.idleMs });
  }

  /**
   * Forwards the request and streams the answer back. When the app can't be connected to, the
   * request never reached it: the caller is told so in the way it trusts (transport/refusal.ts)
   * and retries elsewhere. Any other failure before the answer becomes a 502.
   */
  async forward(request: AppRequest): Promise<void> {
    const { req, res, app, service } = request;
    let result: ForwardResult;
    try {
      result = app.protocol === 'http' ? await this.forwardH1(request) : await this.forwardH2(request);
    } catch (cause) {
      // Thrown only before a stream was opened: nothing was sent.
      refuseUnsent(res, `service "${service}" app at ${hostPort(app)} is unreachable: ${String(cause)}`);
      return;
    }
    if (result.responded) return;
    if (neverSent(result.error)) {
      refuseUnsent(res, `service "${service}" app at ${hostPort(app)} is unreachable: ${String(result.error)}`);
      return;
    }
    replyError(req, res, new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', `service "${service}" app at ${hostPort(app)} closed the request before answering`));
  }

  async close(graceMs: number): Promise<void> {
    this.agent.destroy();
    await this.h2c.close(graceMs);
  }

  /**
   * HTTP/1.1 apps: one request per keep-alive connection. A request that met a pooled
   * connection the app had just closed (its own keep-alive timeout) is sent once more, when
   * its body can be replayed.
   */
  private async forwardH1(request: AppRequest): Promise<ForwardResult> {
    const body = new RequestBody(request.req, DEFAULT_REPLAY_LIMIT);
    const result = await forwardH1Response(request.res, this.requestH1(request), { body });
    return result.retriable ? forwardH1Response(request.res, this.requestH1(request), { body }) : result;
  }

  private requestH1(request: AppRequest): http.ClientRequest {
    const { req, app } = request;
    const extra = ['host', request.authority, TRACEPARENT, request.traceparent];
    if (request.caller !== undefined) extra.push(CALLER_HEADER, request.caller);
    const headers = h1RequestHead(req, extra);
    return http.request({ agent: this.agent, host: app.address, port: app.port, method: req.method, path: request.target, headers, setHost: false });
  }

  private async forwardH2(request: AppRequest): Promise<ForwardResult> {
    const { req, res, app } = request;
    const headers: OutgoingHttpHeaders = {
      ...forwardableRequestHeaders(req.headers),
      [TRACEPARENT]: request.traceparent,
      ':method': req.method,
      ':path': request.target,
      ':authority': request.authority,
      ':scheme': 'http',
    };
    if (request.caller !== undefined) headers[CALLER_HEADER] = request.caller;
    const stream = await this.h2c.open(hostPort(app), app, headers).catch((error: unknown) => {
      // The pooled session died unnoticed (the app restarted): nothing was sent, open a fresh one.
      if (error instanceof SessionGone) return this.h2c.open(hostPort(app), app, headers);
      throw error;
    });
    // No replay towards a local app: nothing retries there, so nothing is kept.
    return forwardH2Response(res, stream, { body: new RequestBody(req, 0) });
  }
}
