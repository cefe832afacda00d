import { Http2ServerRequest } from 'node:http2';
import type { DownstreamRequest } from './downstream.js';
import { ProxyError } from './errors.js';
import { parseMeshAuthority } from './headers.js';

/** Where a request goes: the mesh service its authority names, that authority, and the origin-form target. */
export interface MeshTarget {
  readonly service: string;
  readonly authority: string;
  readonly path: string;
}

/** `http://authority[/path][?query]` (RFC 9112 §3.2.2); the authority is checked as a mesh name afterwards. */
const ABSOLUTE_FORM = /^http:\/\/([^/?#]*)([/?][^#]*)?$/i;

function badAuthority(message: string): ProxyError {
  return new ProxyError('MERIDIAN_ERR_BAD_AUTHORITY', message);
}

/** Why an authority that names no mesh service was refused, saying which rule it broke when there is one. */
function notMesh(authority: string | undefined): ProxyError {
  // Node joins repeated Host fields with ", " (the listener's joinDuplicateHeaders).
  if (authority?.includes(',') === true) {
    return badAuthority('an HTTP/1.1 request carries exactly one Host header (RFC 9112 §3.2): this one has several');
  }
  return badAuthority(`authority "${String(authority)}" is not a mesh service: address calls to <service>.mesh`);
}

function meshTarget(authority: string | undefined, path: string): MeshTarget | ProxyError {
  const service = parseMeshAuthority(authority);
  return authority === undefined || service === undefined ? notMesh(authority) : { service, authority, path };
}

/**
 * HTTP/1.1: the Host header and an origin-form target (the common case, checked first), or an
 * absolute-form target, which names the authority itself; a Host naming anything else makes
 * the request ambiguous, so it is refused rather than routed by one and forwarded with the other.
 */
function http1Target(req: DownstreamRequest): MeshTarget | ProxyError {
  const host = req.headers.host;
  const url = req.url ?? '/';
  // 47 is '/': origin-form. '*' (OPTIONS *) passes as is.
  if (url.charCodeAt(0) === 47 || url === '*') return meshTarget(host, url);
  const absolute = ABSOLUTE_FORM.exec(url);
  if (absolute === null) {
    return new ProxyError('MERIDIAN_ERR_BAD_REQUEST', 'request target must be origin-form (/path) or absolute-form http://<service>.mesh/path');
  }
  const authority = absolute[1] ?? '';
  const rest = absolute[2] ?? '/';
  if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) {
    if (host.includes(',')) return notMesh(host);
    return badAuthority(`Host "${host}" differs from the request target's authority "${authority}"`);
  }
  return meshTarget(authority, rest.startsWith('?') ? `/${rest}` : rest);
}

/**
 * HTTP/2: `:authority` (or Host when a client sent none). Both naming different authorities is
 * malformed (RFC 9113 §8.3.1) and refused. nghttp2 already refuses a `:path` not in origin-form.
 */
function http2Target(req: Http2ServerRequest): MeshTarget | ProxyError {
  const headers = req.headers;
  const authority = headers[':authority'];
  const host = headers.host;
  const path = headers[':path'] ?? '/';
  if (authority === undefined) return meshTarget(host, path);
  if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) {
    return badAuthority(`Host "${host}" differs from :authority "${authority}"`);
  }
  return meshTarget(authority, path);
}

/** The mesh service a request on the outbound listener names, or why it cannot be routed. */
export function meshTargetOf(req: DownstreamRequest): MeshTarget | ProxyError {
  return req instanceof Http2ServerRequest ? http2Target(req) : http1Target(req);
}
