import type { Server } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { errorResponse } from '../../shared/errors/index.js';
import { mtlsContextOptions, type MtlsIdentity } from '../../shared/identity/index.js';
import { assertAccess, authorize, type StatusAccess } from './access.js';
import { loadDashboardPage } from './dashboard/page.js';
import { openApiDocument, STATUS_SECTIONS, type StatusSection } from './openapi.js';
import type { FederationStatus } from './schema.js';

/** Options of {@link startStatusApi}. */
export interface StatusApiOptions {
  /** Default 127.0.0.1: exposing the status API is an explicit choice. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly access: StatusAccess;
  /** Serve HTTPS (TLS 1.3) with this identity; clients may then authenticate with a trust-domain certificate instead of a token. */
  readonly tls?: MtlsIdentity;
  /** Computes the federation status on each request. */
  readonly status: () => FederationStatus;
  /** Prometheus exposition of this control service's metrics. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  readonly version: string;
}

/** A running status API. */
export interface StatusApi {
  readonly url: string;
  readonly port: number;
  /** A renewed identity or new bundle (TLS only): new handshakes present it, client certificates are checked against its bundle; open connections run on. */
  setIdentity(identity: MtlsIdentity): void;
  close(): Promise<void>;
}

function createApp(options: StatusApiOptions): FastifyInstance {
  const https =
    options.tls === undefined
      ? null
      : // Client certificates are asked for, not required: a token over TLS is accepted too.
        { ...mtlsContextOptions(options.tls), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' as const, maxVersion: 'TLSv1.3' as const };
  // forceCloseConnections: a dashboard's keep-alive connection must not hold a stopping control service.
  return Fastify({ https, bodyLimit: 1024, requestTimeout: 30_000, connectionTimeout: 30_000, keepAliveTimeout: 65_000, return503OnClosing: true, forceCloseConnections: true });
}

const noStore = (reply: FastifyReply): FastifyReply => reply.header('cache-control', 'no-store');

function registerRoutes(app: FastifyInstance, options: StatusApiOptions, access: () => StatusAccess): void {
  const document = openApiDocument(options.version);
  const dashboard = loadDashboardPage();
  app.addHook('onRequest', (request, _reply, done) => {
    const path = request.url.split('?')[0] ?? '';
    try {
      if (path.startsWith('/v1/') || path === '/metrics') authorize(access(), { headers: request.headers, socket: request.raw.socket });
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  app.get('/v1/status', (_request, reply) => noStore(reply).send(options.status()));
  app.get('/v1/status/:section', (request, reply) => {
    const { section } = request.params as { section: string };
    if (!(STATUS_SECTIONS as readonly string[]).includes(section)) {
      return reply.status(404).send({ code: 'MERIDIAN_ERR_NOT_FOUND', message: `no status section "${section}"; sections: ${STATUS_SECTIONS.join(', ')}` });
    }
    return noStore(reply).send(options.status()[section as StatusSection]);
  });
  app.get('/metrics', async (_request, reply) => {
    if (options.metrics === undefined) return reply.status(404).send({ code: 'MERIDIAN_ERR_NOT_FOUND', message: 'metrics are not enabled' });
    const { contentType, body } = await options.metrics();
    return noStore(reply).type(contentType).send(body);
  });
  app.get('/openapi.json', () => document);
  // The page holds no data: it reads the token from the URL fragment, which browsers never send.
  app.get('/dashboard', (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', dashboard.csp).header('cache-control', 'no-store').send(dashboard.html),
  );
  app.get('/', (_request, reply) => reply.redirect('/dashboard'));
}

/**
 * The federation status API of a site's control service: `/v1/status` (and its sections),
 * `/metrics`, `/openapi.json` and the `/dashboard` page. Every data route needs a bearer token
 * or, over TLS, a client certificate of the trust domain.
 */
export async function startStatusApi(options: StatusApiOptions): Promise<StatusApi> {
  assertAccess(options.access);
  const app = createApp(options);
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const { status, body } = errorResponse(error);
    return reply.status(status).send(body);
  });
  let access = options.access;
  registerRoutes(app, options, () => access);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const setIdentity = (identity: MtlsIdentity): void => {
    if (options.tls === undefined) return;
    (app.server as Server).setSecureContext(mtlsContextOptions(identity));
    if (access.bundle !== undefined) access = { ...access, bundle: identity.bundle };
  };
  return { url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`, port, setIdentity, close: () => app.close() };
}
