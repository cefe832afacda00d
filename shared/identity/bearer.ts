import { createHash, timingSafeEqual } from 'node:crypto';
import { MeridianError } from '../errors/index.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Whether an `Authorization` header carries one of `tokens` as a bearer token. Digests are
 * compared in constant time, and every token is compared, so neither a token's length nor its
 * bytes leak through response times.
 */
export function bearerTokenMatches(header: string | undefined, tokens: readonly string[]): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (match?.[1] === undefined) return false;
  const offered = digest(match[1]);
  return tokens.reduce((ok, token) => timingSafeEqual(offered, digest(token)) || ok, false);
}

/** Bearer tokens shorter than this are refused: a guessable token is no authentication. */
export const MIN_BEARER_TOKEN_LENGTH = 16;

/** Refuses a token a server would authenticate with when it is guessable or cannot travel in a header; `what` names it. */
export function assertBearerToken(token: string, what: string): string {
  if (token.length < MIN_BEARER_TOKEN_LENGTH || /\s/.test(token)) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${what} must be at least ${MIN_BEARER_TOKEN_LENGTH} characters without whitespace`);
  }
  return token;
}
