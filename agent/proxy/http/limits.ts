import { Http2ServerRequest } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { DownstreamRequest } from './downstream.js';
import { ProxyError, refuseRawSocket } from './errors.js';

/**
 * The header budget of one request, the same on HTTP/1.1 and HTTP/2; past it the answer is 431
 * MERIDIAN_ERR_HEADERS_TOO_LARGE, never a truncated header list.
 *
 * - Bytes: 16 KiB, Node's HTTP/1.1 default (`maxHeaderSize`, counting the request line and
 *   header lines) and what a gRPC client sends at most by default. On HTTP/2 the names and
 *   values of all fields, pseudo-headers included.
 * - Fields: 100 (Envoy's default), pseudo-headers not counted.
 */
export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_HEADER_FIELDS = 100;

/**
 * HTTP/2 decodes a whole header block before any handler can answer, so a session bounds it
 * harder than the budget, and only under this bound can a request still get its 431 (measured,
 * Node 20 / nghttp2 1.61):
 *
 * - up to 128 KiB (advertised as SETTINGS_MAX_HEADER_LIST_SIZE; RFC 9113 counts 32 octets per
 *   field on top of name and value): answered 431;
 * - past it: that stream alone is reset with ENHANCE_YOUR_CALM, the session goes on (so are
 *   new streams while a session's headers hold more than Node's 10 MB session memory);
 * - one field whose HPACK encoding passes 64 KiB (nghttp2's fixed limit per field): nghttp2
 *   ends the whole session with COMPRESSION_ERROR, as no server setting changes.
 *
 * Fields are bounded by those bytes (each costs at least 32), so the pair limit never bites first.
 */
export const H2_HEADER_LIST_LIMIT = 128 * 1024;
const H2_HEADER_PAIRS_LIMIT = H2_HEADER_LIST_LIMIT / 32;

/** Options of the plain HTTP/1.1 server for {@link MAX_HEADER_BYTES} and the strict parser. */
export const H1_PARSER_OPTIONS = {
  maxHeaderSize: MAX_HEADER_BYTES,
  insecureHTTPParser: false,
  // Host is checked by the proxy, after the budget: Node's own check would answer a bare 400
  // when a long head pushed Host out of the fields it keeps.
  requireHostHeader: false,
  // Repeats of single-valued fields are joined, not dropped: two Host headers become one
  // unparseable authority instead of "first wins".
  joinDuplicateHeaders: true,
} as const;

/**
 * Node keeps (and parses into `headers`) only the first `maxHeadersCount` fields: one past the
 * budget shows a request over it in `rawHeaders` without ever building the rest.
 */
export const H1_MAX_HEADERS_COUNT = MAX_HEADER_FIELDS + 1;

/** Options of an HTTP/2 server for {@link H2_HEADER_LIST_LIMIT}. */
export const H2_HEADER_OPTIONS = {
  maxHeaderListPairs: H2_HEADER_PAIRS_LIMIT,
  settings: { maxHeaderListSize: H2_HEADER_LIST_LIMIT },
} as const;

function tooLarge(what: string): ProxyError {
  return new ProxyError('MERIDIAN_ERR_HEADERS_TOO_LARGE', `request headers over the budget: ${what}`);
}

/**
 * The refusal of a request over the header budget, or undefined. HTTP/1.1 bytes are already
 * bounded by the parser; an HTTP/2 request's are summed here (a few dozen string lengths).
 */
export function headerBudgetError(req: DownstreamRequest): ProxyError | undefined {
  const raw = req.rawHeaders;
  if (!(req instanceof Http2ServerRequest)) {
    return raw.length > 2 * MAX_HEADER_FIELDS ? tooLarge(`more than ${MAX_HEADER_FIELDS} header fields`) : undefined;
  }
  let bytes = 0;
  let fields = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    bytes += name.length + (raw[i + 1] as string).length;
    // 58 is ':': pseudo-headers are the request line, not fields.
    if (name.charCodeAt(0) !== 58) fields++;
  }
  if (fields > MAX_HEADER_FIELDS) return tooLarge(`${fields} header fields (at most ${MAX_HEADER_FIELDS})`);
  if (bytes > MAX_HEADER_BYTES) return tooLarge(`${bytes} bytes of header fields (at most ${MAX_HEADER_BYTES})`);
  return undefined;
}

/** A protocol switch the listener cannot carry (yet), or undefined. `h2c` is ignored: RFC 9110 §7.8 lets a server serve on in HTTP/1.1. */
export function upgradeError(req: DownstreamRequest): ProxyError | undefined {
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined || upgrade.trim().toLowerCase() === 'h2c') return undefined;
  return new ProxyError('MERIDIAN_ERR_UPGRADE_UNSUPPORTED', 'protocol upgrades (Upgrade: websocket and the like) are not carried through the mesh yet');
}

/** The Meridian refusal for an error of Node's HTTP/1.1 parser or its headers timeout. */
function parserRefusal(code: string | undefined): ProxyError {
  if (code === 'HPE_HEADER_OVERFLOW') return tooLarge(`more than ${MAX_HEADER_BYTES} bytes of request line and header fields`);
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ProxyError('MERIDIAN_ERR_REQUEST_TIMEOUT', 'the request head did not arrive within the headers timeout');
  return new ProxyError('MERIDIAN_ERR_BAD_REQUEST', `malformed HTTP/1.1 request (${code ?? 'parse error'})`);
}

/**
 * The HTTP/1.1 server's 'clientError' handler: what Node answers by itself (400, 408, 431),
 * with the Meridian error body. Socket errors (a client that went away) get no answer, and
 * nothing is written once a response on the connection has begun.
 */
export function onHttp1ClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const code = error.code;
  const answerable = code !== undefined && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT');
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (answerable && socket.writable && inFlight?.headersSent !== true) {
    refuseRawSocket(socket, parserRefusal(code));
    return;
  }
  socket.destroy();
}
