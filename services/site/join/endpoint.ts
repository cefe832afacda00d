import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { KV } from '@nats-io/kv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MeridianError, isMeridianError } from '../../../shared/errors/index.js';
import { chainToPem, formatSpiffeId, mtlsContextOptions, type LiveIdentity, type SiteAuthority } from '../../../shared/identity/index.js';
import type { LivePolicy } from '../../../shared/policy/index.js';
import { assertIdentityNotRevoked } from '../../signer/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { FailureLimiter, type FailureLimits } from './rate-limit.js';
import { checkJoinRequest } from './request.js';
import { consumeJoinToken } from './token-store.js';

/** Small: a token, a node name and a P-256 or RSA CSR fit in a few KB. */
export const JOIN_BODY_LIMIT = 16 * 1024;

/** Timeouts of the join endpoint (slow clients are cut, not waited for). */
export interface JoinTimeouts {
  /** TLS handshake (default 5 s). */
  readonly handshakeMs: number;
  /** Request headers (default 5 s): a slowloris client gets 408 and is closed. */
  readonly headersMs: number;
  /** The whole request, body included (default 10 s). */
  readonly requestMs: number;
  /** A connection that sends no request (default 10 s); no connection lives past idleMs + requestMs. */
  readonly idleMs: number;
}

const DEFAULT_TIMEOUTS: JoinTimeouts = { handshakeMs: 5_000, headersMs: 5_000, requestMs: 10_000, idleMs: 10_000 };
/** Joins handled at once; past it, 429 (each one does a KV round trip and a signature). */
const MAX_IN_FLIGHT = 32;

/** What the join endpoint hands out and checks with. */
export interface JoinEndpointOptions {
  readonly host: string;
  readonly port: number;
  /** The control service's identity (`svc/control`, chain with the site CA): the server certificate; a renewal reaches new handshakes. */
  readonly identity: LiveIdentity;
  /** The site CA as it is now: a renewed one issues from the next join on. */
  readonly authority: () => SiteAuthority;
  readonly kv: KV;
  /** The site agents' NATS password, handed to a node that joined. */
  readonly natsPassword: string;
  /** Lifetime of the agent certificates it issues (default: the authority's leaf default, 24 h). */
  readonly agentTtlMs?: number;
  readonly limits?: Partial<FailureLimits>;
  readonly timeouts?: Partial<JoinTimeouts>;
  /** The policy in force: a node whose agent identity has a revocation in force is refused (403 MERIDIAN_ERR_REVOKED). */
  readonly policy: LivePolicy;
  readonly log: Logger;
}

/** The body of a successful join. */
export interface JoinResponse {
  /** The agent's certificate, then the site CA (PEM). */
  readonly chain: string;
  /** The trust domain's roots (PEM). */
  readonly bundle: string;
  readonly natsPassword: string;
}

interface RequestState {
  tokenId?: string;
}

const states = new WeakMap<FastifyRequest, RequestState>();

function createApp(options: JoinEndpointOptions, timeouts: JoinTimeouts): FastifyInstance<Server> {
  const tls = { ...mtlsContextOptions(options.identity.current), handshakeTimeout: timeouts.handshakeMs };
  // No client certificate: the node has none yet; the token is its credential.
  const serverFactory = (handler: Parameters<typeof createServer>[1]): Server => {
    const server = createServer(
      { ...tls, requestCert: false, headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: 500, maxHeaderSize: 8 * 1024, keepAliveTimeout: 5_000 },
      handler,
    );
    server.on('secureConnection', (socket: TLSSocket) => boundConnection(socket, timeouts));
    server.on('tlsClientError', (error, socket) => {
      options.log.warn('join: TLS handshake failed', { remote: socket.remoteAddress, error: error.message });
    });
    return server;
  };
  return Fastify<Server>({ serverFactory, bodyLimit: JOIN_BODY_LIMIT, connectionTimeout: timeouts.idleMs, return503OnClosing: true, forceCloseConnections: true });
}

/** Sockets that sent a request (the idle cut spares them). */
const served = new WeakSet<object>();

/**
 * Bounds a connection's life: headersTimeout only starts with a request's first byte, so a
 * connection that sends no request within idleMs is closed, and none lives past idleMs + requestMs
 * (a join is one request; keep-alive buys a client nothing here).
 */
function boundConnection(socket: TLSSocket, timeouts: JoinTimeouts): void {
  const idle = setTimeout(() => served.has(socket) || socket.destroy(), timeouts.idleMs);
  const lifetime = setTimeout(() => socket.destroy(), timeouts.idleMs + timeouts.requestMs);
  idle.unref();
  lifetime.unref();
  socket.once('close', () => {
    clearTimeout(idle);
    clearTimeout(lifetime);
  });
}

/** A refusal as the endpoint answers and counts it. */
function refusal(error: Error & { statusCode?: number; code?: string }): MeridianError {
  if (isMeridianError(error)) return error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new MeridianError('MERIDIAN_ERR_BODY_TOO_LARGE', `request body over ${JOIN_BODY_LIMIT} bytes`, { cause: error });
  if (error.statusCode !== undefined && error.statusCode < 500) return new MeridianError('MERIDIAN_ERR_BAD_REQUEST', error.message, { cause: error });
  return new MeridianError('MERIDIAN_ERR_INTERNAL', 'join failed', { cause: error });
}

/**
 * Starts the join endpoint: HTTPS (TLS 1.3) with the control identity, POST /v1/join. Every
 * refusal is logged (code, remote address, token id; never the secret) and counted against the
 * remote address: past the limits, 429 with Retry-After until the window ends.
 */
export async function startJoinEndpoint(options: JoinEndpointOptions): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const limiter = new FailureLimiter(options.limits);
  const app = createApp(options, timeouts);
  let inFlight = 0;
  app.addHook('onRequest', (request, reply, done) => {
    served.add(request.raw.socket);
    const remote = request.socket.remoteAddress ?? 'unknown';
    const wait = inFlight >= MAX_IN_FLIGHT ? 1 : limiter.retryAfterSeconds(remote);
    if (wait > 0) {
      void reply
        .status(429)
        .header('retry-after', String(wait))
        .send({ code: 'MERIDIAN_ERR_RATE_LIMITED', message: `too many failed joins: retry in ${wait} s` });
      return;
    }
    inFlight += 1;
    // 'close' fires once the response ended or the connection went away, whichever comes first.
    reply.raw.once('close', () => (inFlight -= 1));
    states.set(request, {});
    done();
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const refused = refusal(error);
    const remote = request.socket.remoteAddress ?? 'unknown';
    // A store that is down is no failed attempt of the client.
    if (refused.statusCode < 500) limiter.fail(remote);
    options.log.warn('join refused', { code: refused.code, remote, tokenId: states.get(request)?.tokenId, error: refused.message });
    const blocked = limiter.retryAfterSeconds(remote);
    // Once per block: the 429s that follow are not logged one by one (a flood must not flood the log).
    if (blocked > 0) options.log.warn('join: too many failures, address blocked', { remote, retryAfterSeconds: blocked });
    return reply.status(refused.statusCode).send(refused.toJSON());
  });
  app.setNotFoundHandler((request) => {
    throw new MeridianError('MERIDIAN_ERR_NOT_FOUND', `no route ${request.method} ${request.url.slice(0, 64)}; the join endpoint is POST /v1/join`);
  });
  app.post('/v1/join', (request, reply) => handleJoin(options, request, reply));
  await app.listen({ host: options.host, port: options.port });
  const unfollow = options.identity.onChange((next) => app.server.setSecureContext(mtlsContextOptions(next)));
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { url: `https://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`, port, close: () => {
    unfollow();
    return app.close();
  } };
}

async function handleJoin(options: JoinEndpointOptions, request: FastifyRequest, reply: FastifyReply): Promise<JoinResponse> {
  const authority = options.authority();
  const state = states.get(request) ?? {};
  const site = { trustDomain: authority.trustDomain, site: authority.site, siteCa: authority.certificate };
  const checked = checkJoinRequest(request.body, site, (id) => (state.tokenId = id));
  // Before the token is used: a refused node keeps its token, and nothing is written.
  assertIdentityNotRevoked(options.policy, formatSpiffeId(authority.trustDomain, authority.site, 'agent', checked.node), Date.now(), 'node');
  await consumeJoinToken(options.kv, checked.token, { node: checked.node }).catch((error: unknown) => {
    if (isMeridianError(error)) throw error;
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `the token store is unreachable: ${(error as Error).message}`, { cause: error });
  });
  const issued = authority.issue({ csr: checked.csr, ...(options.agentTtlMs === undefined ? {} : { ttlMs: options.agentTtlMs }) });
  options.log.info('node joined', { node: checked.node, identity: issued.identity.uri, tokenId: checked.token.id, remote: request.socket.remoteAddress, notAfter: issued.certificate.validTo });
  void reply.header('cache-control', 'no-store');
  return { chain: chainToPem(issued.chain), bundle: authority.bundle.toPem(), natsPassword: options.natsPassword };
}
