import type { TLSSocket } from 'node:tls';
import { MeridianError } from '../../shared/errors/index.js';
import { assertBearerToken, bearerTokenMatches, peerIdentity, type SpiffeId, type TrustBundle } from '../../shared/identity/index.js';

/** Who may read the status API: bearer tokens, and (over TLS) client certificates of the trust domain. */
export interface StatusAccess {
  readonly tokens: readonly string[];
  /** Set when the API serves TLS: a verified client certificate of the trust domain is accepted too. */
  readonly bundle?: TrustBundle;
}

/** Checks the access settings once, at start-up. */
export function assertAccess(access: StatusAccess): void {
  access.tokens.forEach((token, i) => assertBearerToken(token, `status API token #${i + 1}`));
  if (access.tokens.length === 0 && access.bundle === undefined) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', 'the status API needs a token or TLS with client certificates: it never serves without authentication');
  }
}

/** A verified client certificate's identity, when the connection is TLS and presented one that the bundle accepts. */
function certificateCaller(socket: unknown, bundle: TrustBundle | undefined): SpiffeId | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (bundle === undefined || tls.encrypted !== true || tls.authorized !== true) return undefined;
  try {
    return peerIdentity(tls as TLSSocket, bundle, 'client');
  } catch {
    return undefined;
  }
}

/** Throws MERIDIAN_ERR_UNAUTHORIZED unless the request carries a valid token or client certificate. */
export function authorize(access: StatusAccess, request: { headers: Record<string, string | string[] | undefined>; socket: unknown }): void {
  if (certificateCaller(request.socket, access.bundle) !== undefined) return;
  const header = request.headers.authorization;
  if (bearerTokenMatches(Array.isArray(header) ? header[0] : header, access.tokens)) return;
  throw new MeridianError('MERIDIAN_ERR_UNAUTHORIZED', 'the status API needs "Authorization: Bearer <token>" or a client certificate of the trust domain');
}
