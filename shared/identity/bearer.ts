import { createHash, timingSafeEqual } from 'node:crypto';

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
