import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MeridianError } from '../../shared/errors/index.js';
import { bearerTokenMatches } from '../../shared/identity/index.js';

/** Who may use the Consul-compatible API: holders of the agent API token, as a Consul ACL token. */
export interface ConsulAccess {
  readonly token: string;
  /** Named in refusals, so a user knows where the token is. */
  readonly tokenFile: string;
  /** Reads (GET) without a token: off by default, since the catalog names every service of the federation. */
  readonly anonymousReads: boolean;
}

/** The token a Consul client sends: `X-Consul-Token`, `Authorization: Bearer`, or `?token=` (Consul's three ways). */
function offered(request: FastifyRequest): string | undefined {
  const header = request.headers['x-consul-token'];
  if (typeof header === 'string' && header !== '') return header;
  if (request.headers.authorization !== undefined) return undefined;
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.['token'] === 'string' ? query['token'] : undefined;
}

/**
 * Every request needs the agent API token unless it is a read and `anonymousReads` is on. Runs
 * before the body is read, so an unauthenticated client cannot make the agent parse anything.
 */
export function requireConsulToken(app: FastifyInstance, access: ConsulAccess): void {
  const tokens = [access.token];
  const refusal = `Permission denied: the Consul-compatible API needs the agent API token as X-Consul-Token (or Authorization: Bearer); it is in ${access.tokenFile}`;
  app.addHook('onRequest', (request, _reply, done) => {
    if (access.anonymousReads && (request.method === 'GET' || request.method === 'HEAD')) return done();
    const token = offered(request);
    const authorization = token === undefined ? request.headers.authorization : `Bearer ${token}`;
    if (bearerTokenMatches(authorization, tokens)) done();
    else done(new MeridianError('MERIDIAN_ERR_FORBIDDEN', refusal));
  });
}
