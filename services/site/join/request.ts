import { Type } from '@sinclair/typebox';
import { NameSchema, parseConfig } from '../../../shared/config/index.js';
import { MeridianError } from '../../../shared/errors/index.js';
import { caSpkiHash, formatSpiffeId, parseCsr, parseJoinToken, type JoinToken } from '../../../shared/identity/index.js';
import type { X509Certificate } from 'node:crypto';

/** POST /v1/join: the token, the node's CSR (its key stays on the node) and its name. */
export const JoinRequestSchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 256 }),
    csr: Type.String({ minLength: 1, maxLength: 8192 }),
    node: NameSchema,
  },
  { additionalProperties: false },
);

/** A join request whose token parses, names this site and its CA, and whose CSR asks for exactly the node's agent identity. */
export interface CheckedJoinRequest {
  readonly token: JoinToken;
  readonly node: string;
  readonly csr: string;
}

/** What a join request is checked against. */
export interface JoinSite {
  readonly trustDomain: string;
  readonly site: string;
  readonly siteCa: X509Certificate;
}

/**
 * Checks everything that needs no store: body shape (errors name the field), token syntax and
 * site, and the CSR (its signature, exactly one URI SAN `spiffe://<td>/site/<site>/agent/<node>`).
 * `onToken` hears the token id as soon as it is known, for the refusal log.
 */
export function checkJoinRequest(body: unknown, site: JoinSite, onToken: (id: string) => void): CheckedJoinRequest {
  let fields;
  try {
    fields = parseConfig(JoinRequestSchema, body, 'join request');
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_BAD_REQUEST', (cause as Error).message, { cause });
  }
  const token = parseJoinToken(fields.token);
  onToken(token.id);
  if (token.site !== site.site) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE', `token ${token.id}: made for site ${token.site}; this is the control service of site ${site.site}`);
  }
  if (token.caHash !== caSpkiHash(site.siteCa)) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_INVALID', `token ${token.id}: made for another CA of site ${site.site} (its CA hash does not match)`);
  }
  const expected = formatSpiffeId(site.trustDomain, site.site, 'agent', fields.node);
  const requested = parseCsr(fields.csr).requested;
  if (requested.uris.length !== 1 || requested.uris[0] !== expected || requested.otherSanCount !== 0) {
    throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', `csr.subjectAltName: a joining node must ask for exactly one URI SAN ${expected}`);
  }
  return { token, node: fields.node, csr: fields.csr };
}
