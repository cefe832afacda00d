import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { IDENTITY_HEADERS } from '../../shared/mesh/index.js';

/**
 * Connection-scoped headers (RFC 9110 §7.6.1) and ones HTTP/2 forbids (RFC 9113 §8.2.2): they
 * describe one hop, so a proxy never forwards them. `host` is rebuilt from the authority.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
  'expect',
]);

const IDENTITY = new Set<string>(IDENTITY_HEADERS);

/** A DNS label, as service names are (the catalog's `Name`). */
const SERVICE_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MESH_AUTHORITY = /^([^:]+)\.mesh(?::(\d{1,5}))?$/;

/**
 * The service a mesh authority names: `payments.mesh` or `payments.mesh:8080` → `payments`.
 * Anything else (another domain, a malformed label, user info) → undefined.
 */
export function parseMeshAuthority(authority: string | undefined): string | undefined {
  if (authority === undefined) return undefined;
  const match = MESH_AUTHORITY.exec(authority.toLowerCase());
  const service = match?.[1];
  return service !== undefined && SERVICE_LABEL.test(service) ? service : undefined;
}

/** Names listed in `Connection:` are hop-by-hop too. */
function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  if (value === undefined) return new Set();
  return new Set(value.split(',').map((token) => token.trim().toLowerCase()).filter((token) => token !== ''));
}

/**
 * End-to-end request headers to send upstream: without pseudo-headers, hop-by-hop headers and
 * any identity header a client tried to set (only the inbound proxy sets those, from the
 * verified certificate). `te: trailers` survives: gRPC needs it and HTTP/2 allows exactly that.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name) || listed.has(name) || IDENTITY.has(name)) continue;
    if (name === 'te') {
      if (String(value).toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** End-to-end response headers (or trailers) to send downstream, from an HTTP/1.1 or HTTP/2 upstream. */
export function forwardableResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name) || listed.has(name) || name === 'te') continue;
    out[name] = value;
  }
  return out;
}

/** The `:status` of an HTTP/2 response; 502 when an upstream sent none (a protocol error). */
export function h2Status(headers: IncomingHttpHeaders): number {
  const status = Number(headers[':status']);
  return Number.isInteger(status) && status >= 100 && status <= 599 ? status : 502;
}
