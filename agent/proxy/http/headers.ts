import { IncomingMessage, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { IDENTITY_HEADERS } from '../../../shared/mesh/index.js';
import type { DownstreamRequest } from './downstream.js';
import { DNS_LABEL_PATTERN } from '../../../shared/text/index.js';

/** Headers as Node's HTTP/1.1 code takes them without building an object: [name, value, name, value, …]. */
export type HeaderList = string[];

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

/** Set again by each hop (trace.ts): the one that came in is never forwarded as is. */
const TRACEPARENT = 'traceparent';

/** A DNS label, as service names are (the catalog's `Name`). */
const SERVICE_LABEL = DNS_LABEL_PATTERN;
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

/** Names listed in `Connection:` are hop-by-hop too; undefined when it lists nothing beyond the usual. */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const joined = (Array.isArray(value) ? value.join(',') : value).toLowerCase();
  // Nearly every request says just this: no set to build, as both name hop-by-hop headers anyway.
  if (joined === 'keep-alive' || joined === 'close') return undefined;
  return new Set(joined.split(',').map((token) => token.trim()).filter((token) => token !== ''));
}

/** Whether a (lower-case) request header never leaves this hop as it came. */
function dropRequestHeader(name: string, listed: ReadonlySet<string> | undefined): boolean {
  return name.startsWith(':') || HOP_BY_HOP.has(name) || IDENTITY.has(name) || name === TRACEPARENT || listed?.has(name) === true;
}

/** Whether a (lower-case) response header or trailer never leaves this hop. */
function dropResponseHeader(name: string, listed: ReadonlySet<string> | undefined): boolean {
  return name.startsWith(':') || HOP_BY_HOP.has(name) || name === 'te' || listed?.has(name) === true;
}

/** `te` survives only as `trailers`: gRPC needs it and HTTP/2 allows exactly that. */
function keepsTrailers(value: string | string[]): boolean {
  return String(value).toLowerCase().includes('trailers');
}

/**
 * End-to-end request headers to send upstream: without pseudo-headers, hop-by-hop headers and
 * any identity header a client tried to set (only the inbound proxy sets those, from the
 * verified certificate), nor the incoming `traceparent` (each hop sends its own).
 * `te: trailers` survives: gRPC needs it and HTTP/2 allows exactly that.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || dropRequestHeader(name, listed)) continue;
    if (name === 'te') {
      if (keepsTrailers(value)) out.te = 'trailers';
      continue;
    }
    out[name] = value;
  }
  return out;
}

/**
 * {@link forwardableRequestHeaders} for the HTTP/1.1 pass-through: filters the request's raw
 * header lines (order, case and repeats kept) into a list Node sends as is, with no header
 * object built on the way.
 */
export function forwardableRawRequestHeaders(raw: readonly string[], connection: string | string[] | undefined): HeaderList {
  const listed = connectionTokens(connection);
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (dropRequestHeader(lower, listed)) continue;
    if (lower === 'te') {
      if (keepsTrailers(value)) out.push('te', 'trailers');
      continue;
    }
    out.push(name, value);
  }
  return out;
}

/**
 * The head of a request forwarded over HTTP/1.1: the downstream's end-to-end headers, then
 * `extra` (host, trace, caller; [name, value, …]). An HTTP/1.1 downstream's raw lines pass
 * through; an HTTP/2 one's header object is flattened.
 */
export function h1RequestHead(req: DownstreamRequest, extra: readonly string[]): HeaderList {
  let out: HeaderList;
  if (req instanceof IncomingMessage) out = forwardableRawRequestHeaders(req.rawHeaders, req.headers.connection);
  else {
    out = [];
    for (const [name, value] of Object.entries(forwardableRequestHeaders(req.headers))) {
      if (Array.isArray(value)) for (const one of value) out.push(name, one);
      else if (value !== undefined) out.push(name, String(value));
    }
  }
  for (const item of extra) out.push(item);
  return out;
}

/** End-to-end response headers (or trailers) to send downstream, from an HTTP/1.1 or HTTP/2 upstream. */
export function forwardableResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || dropResponseHeader(name, listed)) continue;
    out[name] = value;
  }
  return out;
}

/** {@link forwardableResponseHeaders} from raw header lines, for an HTTP/1.1 downstream. */
export function forwardableRawResponseHeaders(raw: readonly string[]): HeaderList {
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection') connection = connection === undefined ? raw[i + 1] : `${connection},${raw[i + 1]}`;
  }
  const listed = connectionTokens(connection);
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!dropResponseHeader(name.toLowerCase(), listed)) out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** The `:status` of an HTTP/2 response; 502 when an upstream sent none (a protocol error). */
export function h2Status(headers: IncomingHttpHeaders): number {
  const status = Number(headers[':status']);
  return Number.isInteger(status) && status >= 100 && status <= 599 ? status : 502;
}
