import { parseAllDocuments, parseDocument, type YAMLError } from 'yaml';
import { ServiceDefinitionSchema, type ServiceDefinition } from '../../../shared/catalog/definition.js';
import { parseConfig } from '../../../shared/config/index.js';
import { isMeridianError, MeridianError } from '../../../shared/errors/index.js';

/** How a definitions file is written. */
export type DefinitionsFormat = 'yaml' | 'json';

/** One valid definition of a file. */
export interface ParsedDefinition {
  /** 0-based position among the file's definitions (empty YAML documents don't count). */
  readonly index: number;
  /** How errors name it: the path, plus `[index]` when the file holds several definitions. */
  readonly source: string;
  readonly definition: ServiceDefinition;
}

/** What a file holds: its valid definitions and every error. A file with any error is rejected whole. */
export interface DefinitionsFileResult {
  readonly definitions: readonly ParsedDefinition[];
  readonly errors: readonly MeridianError[];
}

type Values = { readonly values: readonly unknown[] } | { readonly error: MeridianError };

/**
 * Parses and validates the text of a definitions file. YAML: one definition per document of a
 * multi-document stream (`---`); empty documents are skipped. JSON: one definition object, or an
 * array of them. Duplicate keys are errors in both formats; so are a file without any definition
 * and two definitions of the file with the same instanceId.
 */
export function parseDefinitionsText(text: string, options: { path: string; format: DefinitionsFormat }): DefinitionsFileResult {
  const { path, format } = options;
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const parsed = format === 'json' ? parseJsonValues(body, path) : parseYamlValues(body, path);
  if ('error' in parsed) return { definitions: [], errors: [parsed.error] };
  if (parsed.values.length === 0) {
    return { definitions: [], errors: [invalid(path, `/: holds no service definition`)] };
  }
  const definitions: ParsedDefinition[] = [];
  const errors: MeridianError[] = [];
  parsed.values.forEach((value, index) => {
    const source = parsed.values.length > 1 ? `${path}[${index}]` : path;
    try {
      definitions.push({ index, source, definition: parseConfig(ServiceDefinitionSchema, value, source) });
    } catch (err) {
      if (!isMeridianError(err)) throw err;
      errors.push(err);
    }
  });
  errors.push(...duplicatesWithin(definitions));
  return { definitions, errors };
}

/** The error for a definition whose instanceId another definition already holds. */
export function duplicateInstanceError(source: string, instanceId: string, heldBy: string): MeridianError {
  return invalid(source, `/instanceId: ${JSON.stringify(instanceId)} is already defined in ${heldBy}`, {
    instanceId,
    heldBy,
  });
}

function duplicatesWithin(definitions: readonly ParsedDefinition[]): MeridianError[] {
  const seen = new Map<string, string>();
  const errors: MeridianError[] = [];
  for (const { source, definition } of definitions) {
    const id = definition.instanceId;
    if (id === undefined) continue;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, source);
    else errors.push(duplicateInstanceError(source, id, first));
  }
  return errors;
}

function parseYamlValues(text: string, path: string): Values {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  // parseAllDocuments returns an EmptyStream (not an array) for a file holding only comments.
  if (!Array.isArray(docs)) return { values: [] };
  const values: unknown[] = [];
  for (const doc of docs) {
    const first = doc.errors[0];
    if (first !== undefined) return { error: yamlSyntaxError(text, path, first) };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // Raised while resolving aliases, which carries no position: name the document instead.
      const { line } = lineColumn(text, doc.range[0]);
      const message = `${path}: YAML error in the document starting at line ${line}: ${errorMessage(err)}`;
      return { error: new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', message, { cause: err, details: { source: path, line } }) };
    }
    if (value !== null && value !== undefined) values.push(value);
  }
  return { values };
}

function parseJsonValues(text: string, path: string): Values {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: jsonSyntaxError(text, path, err) };
  }
  // JSON.parse keeps the last of duplicate keys without a word; the YAML parser (JSON is YAML 1.2)
  // finds them, with their line.
  const duplicate = parseDocument(text, { schema: 'json', uniqueKeys: true, prettyErrors: true }).errors.find(
    (e) => e.code === 'DUPLICATE_KEY',
  );
  if (duplicate !== undefined) return { error: yamlSyntaxError(text, path, duplicate, 'JSON') };
  return { values: Array.isArray(value) ? value : [value] };
}

function yamlSyntaxError(text: string, path: string, err: YAMLError, kind: 'YAML' | 'JSON' = 'YAML'): MeridianError {
  const pos = err.linePos?.[0];
  const { line, column } = pos === undefined ? lineColumn(text, err.pos[0]) : { line: pos.line, column: pos.col };
  // prettyErrors appends " at line L, column C:" and a source excerpt; we print our own position.
  const reason = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  return syntaxError({ path, kind, line, column, reason, cause: err });
}

function jsonSyntaxError(text: string, path: string, err: unknown): MeridianError {
  const message = errorMessage(err);
  // Node 20 reports "at position N"; newer V8 adds "(line L column C)".
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  const position = /position (\d+)/.exec(message);
  const at = lineCol !== null
    ? { line: Number(lineCol[1]), column: Number(lineCol[2]) }
    : lineColumn(text, position === null ? text.length : Number(position[1]));
  const reason = message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ in JSON at position \d+/, '');
  return syntaxError({ path, kind: 'JSON', line: at.line, column: at.column, reason, cause: err });
}

function syntaxError(o: { path: string; kind: 'YAML' | 'JSON'; line: number; column: number; reason: string; cause: unknown }): MeridianError {
  return new MeridianError(
    'MERIDIAN_ERR_CONFIG_INVALID',
    `${o.path}: ${o.kind} syntax error at line ${o.line}, column ${o.column}: ${o.reason}`,
    { cause: o.cause, details: { source: o.path, line: o.line, column: o.column } },
  );
}

function invalid(source: string, violation: string, extra: Record<string, unknown> = {}): MeridianError {
  const [path = '/', message = violation] = violation.split(/: (.*)/s);
  return new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${source}: invalid configuration: ${violation}`, {
    details: { source, violations: [{ path, message }], ...extra },
  });
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
