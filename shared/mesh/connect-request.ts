import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { MeridianError } from '../errors/index.js';
import { TARGET_INSTANCE_HEADER, connectAuthority, type MeshTarget } from './contracts.js';
import { DNS_LABEL } from '../text/index.js';

// Same rules as SPIFFE path names (shared/identity/spiffe.ts): one DNS label, so the authority
// `<service>.<site>.mesh:443` splits without ambiguity.
const AUTHORITY_PATTERN = new RegExp(`^(${DNS_LABEL})\\.(${DNS_LABEL})\\.mesh:443$`);
const INSTANCE_PATTERN = /^[\x21-\x7e]{1,256}$/;

function badRequest(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', message);
}

/**
 * The target of a classic HTTP/2 CONNECT (RFC 9113 §8.5). Extended CONNECT (`:protocol`) is
 * refused: the gateway relays opaque bytes only, never a protocol it would have to interpret.
 */
export function parseConnectRequest(headers: IncomingHttpHeaders): MeshTarget {
  const method = headers[constants.HTTP2_HEADER_METHOD];
  if (method !== constants.HTTP2_METHOD_CONNECT) throw badRequest(`only CONNECT is served (got ${String(method)})`);
  if (headers[':protocol'] !== undefined) throw badRequest('extended CONNECT (:protocol) is not served');
  const authority = headers[constants.HTTP2_HEADER_AUTHORITY];
  const match = typeof authority === 'string' ? AUTHORITY_PATTERN.exec(authority) : null;
  if (match === null) throw badRequest(`:authority must be <service>.<site>.mesh:443 (got ${JSON.stringify(authority ?? '')})`);
  const instanceId = headers[TARGET_INSTANCE_HEADER];
  if (typeof instanceId !== 'string' || !INSTANCE_PATTERN.test(instanceId)) {
    throw badRequest(`header ${TARGET_INSTANCE_HEADER} must hold the target instance id (1-256 visible ASCII characters)`);
  }
  return { service: match[1] ?? '', site: match[2] ?? '', instanceId };
}

/** Request headers of a CONNECT stream for `target`. */
export function connectHeaders(target: MeshTarget): OutgoingHttpHeaders {
  return {
    [constants.HTTP2_HEADER_METHOD]: constants.HTTP2_METHOD_CONNECT,
    [constants.HTTP2_HEADER_AUTHORITY]: connectAuthority(target),
    [TARGET_INSTANCE_HEADER]: target.instanceId,
  };
}

/** `service.site/instance`, for logs and reasons. */
export function describeTarget(target: MeshTarget): string {
  return `${target.service}.${target.site}/${target.instanceId}`;
}
