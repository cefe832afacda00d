import { headerValues } from './normalize.js';
import type { HeaderMatch, Operation, PathMatch } from './schema.js';

/** What an HTTP request or TCP connection offers to the rules. `path` must come from normalizeRequestPath. */
export interface AuthorizationRequestAttributes {
  readonly protocol: 'http' | 'tcp';
  readonly method?: string;
  readonly path?: string;
  /** Header names in lower case (as Node gives them); a repeated header as an array. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
}

interface CompiledPath {
  readonly exact: string;
  /** `exact + '/'` for a prefix (segment-aware: `/api` matches `/api/x`, never `/apix`), else undefined. */
  readonly under: string | undefined;
}

interface CompiledHeader {
  readonly name: string;
  readonly exact: string | undefined;
}

/** One `to` entry: every listed condition must hold. */
export interface CompiledOperation {
  readonly methods: ReadonlySet<string> | undefined;
  readonly paths: readonly CompiledPath[] | undefined;
  readonly headers: readonly CompiledHeader[] | undefined;
}

function compilePath(match: PathMatch): CompiledPath {
  if (match.exact !== undefined) return { exact: match.exact, under: undefined };
  const prefix = match.prefix ?? '/';
  return { exact: prefix.endsWith('/') && prefix !== '/' ? prefix.slice(0, -1) : prefix, under: prefix.endsWith('/') ? prefix : `${prefix}/` };
}

function compileHeader(match: HeaderMatch): CompiledHeader {
  return { name: match.name.toLowerCase(), exact: match.exact };
}

export function compileOperation(operation: Operation): CompiledOperation {
  return {
    methods: operation.methods === undefined ? undefined : new Set(operation.methods.map((m) => m.toUpperCase())),
    paths: operation.paths?.map(compilePath),
    headers: operation.headers?.map(compileHeader),
  };
}

function pathMatches(paths: readonly CompiledPath[], path: string): boolean {
  for (const p of paths) {
    if (path === p.exact || (p.under !== undefined && path.startsWith(p.under))) return true;
  }
  return false;
}

/**
 * A header condition judges every value (repeated or comma-joined). A deny rule matches when any
 * value matches; an allow rule only when all do, so no extra value the app might read slips by.
 */
function headerMatches(header: CompiledHeader, request: AuthorizationRequestAttributes, deny: boolean): boolean {
  const values = headerValues(request.headers?.[header.name]);
  if (values.length === 0) return false;
  if (header.exact === undefined) return true;
  return deny ? values.includes(header.exact) : values.every((v) => v === header.exact);
}

/**
 * Whether the request meets an operation. An HTTP condition facing a TCP connection (or a request
 * without the attribute) cannot be judged: it counts as met for a deny rule (fail closed) and
 * unmet for an allow rule.
 */
export function operationMatches(op: CompiledOperation, request: AuthorizationRequestAttributes, deny: boolean): boolean {
  if (request.protocol === 'tcp') return deny;
  if (op.methods !== undefined) {
    const method = request.method;
    if (method === undefined) return deny;
    if (!op.methods.has(method) && !op.methods.has(method.toUpperCase())) return false;
  }
  if (op.paths !== undefined) {
    if (request.path === undefined) return deny;
    if (!pathMatches(op.paths, request.path)) return false;
  }
  if (op.headers !== undefined) {
    for (const header of op.headers) if (!headerMatches(header, request, deny)) return false;
  }
  return true;
}
