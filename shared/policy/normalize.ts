/**
 * Request normalisation: the path an authorization policy judges must be the very path the app
 * receives, or an attacker picks the spelling the policy misses (CVE-2021-31920 encoded slashes,
 * CVE-2021-39156 fragments, CVE-2021-39155 host case, CVE-2020-25017 repeated headers).
 */

/** What to do with `%2F` and `%5C` (an encoded `/` or `\`): refuse (default), or keep them encoded and opaque. */
export type EncodedSlashAction = 'reject' | 'keep';

export interface NormalizeOptions {
  /** Default 'reject': a 400, since apps disagree on whether `%2F` splits a segment. */
  readonly encodedSlashes?: EncodedSlashAction;
}

/** A normalised request target: `path` (what the policy judges) and `query` (with its `?`, or empty), both forwarded as is. */
export interface NormalizedTarget {
  readonly ok: true;
  readonly path: string;
  readonly query: string;
}

/** A refused request target: always a 400 (`MERIDIAN_ERR_BAD_REQUEST`); `reason` says why, for the access log. */
export interface RejectedTarget {
  readonly ok: false;
  readonly code: 'MERIDIAN_ERR_BAD_REQUEST';
  readonly reason: string;
}

const HEX = '0123456789ABCDEF';
/** RFC 3986 pchar minus '%' (handled apart): unreserved, sub-delims, ':' and '@'. */
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function reject(reason: string): RejectedTarget {
  return { ok: false, code: 'MERIDIAN_ERR_BAD_REQUEST', reason };
}

function hexValue(text: string, at: number): number {
  const pair = text.slice(at, at + 2).toUpperCase();
  if (pair.length !== 2 || !HEX.includes(pair[0] ?? 'x') || !HEX.includes(pair[1] ?? 'x')) return -1;
  return parseInt(pair, 16);
}

/**
 * Decodes the percent-escapes of unreserved characters (so `%2e%2e` is `..` before dot segments
 * are resolved), upper-cases the others, refuses invalid escapes, encoded control characters and
 * (by default) encoded slashes and backslashes; refuses every character a path may not hold raw.
 */
function decodePath(raw: string, encodedSlashes: EncodedSlashAction): string | RejectedTarget {
  let out = '';
  for (let i = 0; i < raw.length; i += 1) {
    const char = raw.charAt(i);
    if (char === '/') {
      out += char;
    } else if (char === '%') {
      const value = hexValue(raw, i + 1);
      if (value === -1) return reject(`invalid percent-encoding at offset ${i}`);
      i += 2;
      const decoded = String.fromCharCode(value);
      if (value < 0x20 || value === 0x7f) return reject('an encoded control character (NUL, CR, LF...)');
      if (value === 0x2f || value === 0x5c) {
        if (encodedSlashes === 'reject') return reject(`an encoded ${value === 0x2f ? "slash '%2F'" : "backslash '%5C'"}`);
        out += `%${HEX[value >> 4] ?? ''}${HEX[value & 15] ?? ''}`;
      } else {
        out += UNRESERVED.test(decoded) ? decoded : `%${HEX[value >> 4] ?? ''}${HEX[value & 15] ?? ''}`;
      }
    } else if (PCHAR.test(char)) {
      out += char;
    } else {
      return reject(rawCharacterReason(char));
    }
  }
  return out;
}

function rawCharacterReason(char: string): string {
  const code = char.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return 'a control character (NUL, CR, LF...)';
  if (char === '\\') return "a backslash '\\'";
  return `character ${JSON.stringify(char)} is not allowed in a path`;
}

/** Merges `//`, resolves `.` and `..` (never above the root), keeps a trailing slash. */
function resolveSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (const segment of segments.slice(1)) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailing = out.length > 0 && (last === '' || last === '.' || last === '..');
  return `/${out.join('/')}${trailing ? '/' : ''}`;
}

function checkQuery(query: string): RejectedTarget | undefined {
  for (let i = 0; i < query.length; i += 1) {
    const code = query.charCodeAt(i);
    if (code < 0x21 || code >= 0x7f) return reject(code < 0x20 || code === 0x7f ? 'a control character in the query' : 'a space or non-ASCII byte in the query');
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(query)) return reject('invalid percent-encoding in the query');
  if (/%(0[0-9A-Fa-f]|1[0-9A-Fa-f]|7[Ff])/.test(query)) return reject('an encoded control character in the query');
  return undefined;
}

/**
 * Normalises an origin-form request target (`/a/b?q`). Pure: the caller forwards `path + query`
 * to the app and gives `path` to the authorizer. The fragment (never sent by a browser, but sent
 * by attackers) is dropped.
 */
export function normalizeRequestPath(rawTarget: string, options: NormalizeOptions = {}): NormalizedTarget | RejectedTarget {
  const hash = rawTarget.indexOf('#');
  const target = hash === -1 ? rawTarget : rawTarget.slice(0, hash);
  const mark = target.indexOf('?');
  const rawPath = mark === -1 ? target : target.slice(0, mark);
  const query = mark === -1 ? '' : target.slice(mark);
  if (!rawPath.startsWith('/')) return reject("the path must start with '/'");
  const decoded = decodePath(rawPath, options.encodedSlashes ?? 'reject');
  if (typeof decoded !== 'string') return decoded;
  const queryProblem = checkQuery(query);
  if (queryProblem !== undefined) return queryProblem;
  return { ok: true, path: resolveSegments(decoded), query };
}

/** An HTTP method as policies compare it: upper case (`get` and `GET` are one method). */
export function normalizeMethod(method: string): string {
  return method.toUpperCase();
}

/** A Host / :authority as policies compare it: lower case, without a trailing dot. */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Every value of a header, whether repeated (an array, as Node gives them) or comma-joined, trimmed:
 * a rule judges all of them, never the first alone.
 */
export function headerValues(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = typeof value === 'string' ? [value] : value;
  return joined.flatMap((v) => v.split(',')).map((v) => v.trim());
}
