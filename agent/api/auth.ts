import type { FastifyInstance } from 'fastify';
import { MeridianError } from '../../shared/errors/index.js';
import { bearerTokenMatches } from '../../shared/identity/index.js';
import type { RouteSchema } from '../../shared/openapi/index.js';

/** Who may use the agent API: holders of the token in `tokenFile`. */
export interface ApiAccess {
  readonly token: string;
  /** Named in refusals, so a user knows where the token is. */
  readonly tokenFile: string;
}

/** The `WWW-Authenticate` challenge of a refusal. */
export const AUTH_CHALLENGE = 'Bearer realm="meridian-agent"';

/** Whether a route's schema declares it open (`security: []`): readiness and the OpenAPI document only. */
export function isOpenRoute(schema: unknown): boolean {
  const security = (schema as RouteSchema | undefined)?.security;
  return security !== undefined && security.length === 0;
}

/**
 * Every request needs `Authorization: Bearer <token>` (compared in constant time), except on routes
 * declared open; unknown paths too, so a refusal says nothing about which routes exist. The check
 * runs before the body is read: an unauthenticated client cannot make the agent parse anything.
 * A token in the query string is never looked at (it would end up in logs and shell history).
 */
export function requireToken(app: FastifyInstance, access: ApiAccess): void {
  const tokens = [access.token];
  const refusal = `the agent API needs "Authorization: Bearer <token>"; the token is in ${access.tokenFile} (the agent config's api.tokenFile)`;
  app.addHook('onRequest', (request, _reply, done) => {
    if (isOpenRoute(request.routeOptions.schema) || bearerTokenMatches(request.headers.authorization, tokens)) done();
    else done(new MeridianError('MERIDIAN_ERR_UNAUTHORIZED', refusal));
  });
}
