import { MeridianError } from '../../shared/errors/index.js';

/** Bounds on a `filter` expression: it is parsed on every request. */
export const MAX_FILTER_LENGTH = 1024;
const MAX_CLAUSES = 16;

type Operator = '==' | '!=' | 'contains' | 'not contains' | 'in' | 'not in' | 'is empty' | 'is not empty';
interface Clause {
  readonly selector: readonly string[];
  readonly operator: Operator;
  readonly value: string;
}

/** A compiled filter: true when a result row matches every clause. */
export type RowFilter = (row: Record<string, unknown>) => boolean;

const SUPPORTED = 'supported: <Selector> ==|!= <value>, <Selector> contains|not contains <value>, <value> in|not in <Selector>, <Selector> is empty|is not empty, joined by "and"';
const TOKEN = /\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|(==|!=)|([A-Za-z0-9_.\-/:]+)|(\S))/y;

function unsupported(what: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `filter: ${what} (${SUPPORTED})`);
}

/** Words and quoted strings; quoted strings are marked so `"and"` is a value, not the keyword. */
function tokenize(expression: string): { text: string; quoted: boolean }[] {
  const tokens: { text: string; quoted: boolean }[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    const match = TOKEN.exec(expression);
    if (match === null) break;
    if (match[5] !== undefined) throw unsupported(`${JSON.stringify(match[5])} is not supported (no parentheses, "or" or "not" groups)`);
    const quoted = match[1] ?? match[2];
    if (quoted !== undefined) tokens.push({ text: match[1] === undefined ? quoted : quoted.replace(/\\(.)/g, '$1'), quoted: true });
    else tokens.push({ text: match[3] ?? match[4] ?? '', quoted: false });
  }
  return tokens;
}

function selectorOf(text: string): string[] {
  const parts = text.split('.');
  if (!parts.every((part) => /^[A-Za-z0-9_-]+$/.test(part))) throw unsupported(`${JSON.stringify(text)} is not a selector`);
  return parts;
}

function clauseOf(words: { text: string; quoted: boolean }[]): Clause {
  const texts = words.map((w) => (w.quoted ? `"${w.text}"` : w.text));
  const [a, b, c, d] = words;
  if (a === undefined || b === undefined) throw unsupported(`${JSON.stringify(texts.join(' '))} is incomplete`);
  if (words.length === 3 && c !== undefined && !a.quoted && (b.text === '==' || b.text === '!=' || b.text === 'contains') && !b.quoted) {
    return { selector: selectorOf(a.text), operator: b.text, value: c.text };
  }
  if (words.length === 3 && c !== undefined && b.text === 'in' && !b.quoted) return { selector: selectorOf(c.text), operator: 'in', value: a.text };
  if (words.length === 4 && c !== undefined && d !== undefined && !b.quoted && !c.quoted) {
    const op = `${b.text} ${c.text}`;
    if (op === 'not contains') return { selector: selectorOf(a.text), operator: op, value: d.text };
    if (op === 'not in') return { selector: selectorOf(d.text), operator: op, value: a.text };
    if (op === 'is not' && d.text === 'empty') return { selector: selectorOf(a.text), operator: 'is not empty', value: '' };
  }
  if (words.length === 3 && c !== undefined && b.text === 'is' && c.text === 'empty') return { selector: selectorOf(a.text), operator: 'is empty', value: '' };
  throw unsupported(`${JSON.stringify(texts.join(' '))} is not a supported clause`);
}

/** Parses a Consul `filter` expression in the subset Meridian serves; throws MERIDIAN_ERR_BAD_ARGUMENT naming what is not. */
export function parseFilter(expression: string): Clause[] {
  if (expression.length > MAX_FILTER_LENGTH) throw unsupported(`longer than ${MAX_FILTER_LENGTH} characters`);
  const clauses: Clause[] = [];
  let words: { text: string; quoted: boolean }[] = [];
  for (const token of [...tokenize(expression), { text: 'and', quoted: false }]) {
    if (token.quoted || token.text.toLowerCase() !== 'and') {
      const word = token.quoted ? '' : token.text.toLowerCase();
      if (word === 'or' || (word === 'not' && words.length === 0)) throw unsupported(`"${token.text}" is not supported`);
      words.push(token);
      continue;
    }
    if (token.text !== 'and') throw unsupported(`"${token.text}" must be written "and"`);
    clauses.push(clauseOf(words));
    if (clauses.length > MAX_CLAUSES) throw unsupported(`more than ${MAX_CLAUSES} clauses`);
    words = [];
  }
  return clauses;
}

/** The value at `selector`, own properties only (never the prototype chain); undefined when a step is missing. */
function select(row: unknown, selector: readonly string[]): unknown {
  let value: unknown = row;
  for (const step of selector) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, step)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

function holds(field: unknown, value: string): boolean {
  if (Array.isArray(field)) return field.some((item) => scalar(item) === value);
  if (typeof field === 'string') return field.includes(value);
  if (field !== null && typeof field === 'object') return Object.hasOwn(field, value);
  return false;
}

function isEmpty(field: unknown): boolean {
  if (field === undefined || field === null || field === '') return true;
  if (Array.isArray(field)) return field.length === 0;
  return typeof field === 'object' && Object.keys(field).length === 0;
}

/** A scalar as Consul's filter compares it (strings, numbers and booleans as text); undefined for anything else. */
function scalar(field: unknown): string | undefined {
  return typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean' ? String(field) : undefined;
}

function test(clause: Clause, row: Record<string, unknown>): boolean {
  const field = select(row, clause.selector);
  switch (clause.operator) {
    case '==':
      return scalar(field) === clause.value;
    case '!=':
      return scalar(field) !== clause.value;
    case 'contains':
    case 'in':
      return holds(field, clause.value);
    case 'not contains':
    case 'not in':
      return !holds(field, clause.value);
    case 'is empty':
      return isEmpty(field);
    case 'is not empty':
      return !isEmpty(field);
  }
}

/**
 * Compiles `filter` against the rows an endpoint returns: a selector's first step must be a field
 * of those rows (`fields`), so a typo is a 400, not a silently empty list.
 */
export function compileFilter(expression: string | undefined, fields: readonly string[]): RowFilter | undefined {
  if (expression === undefined || expression.trim() === '') return undefined;
  const clauses = parseFilter(expression);
  for (const { selector } of clauses) {
    const [head] = selector;
    if (head === undefined || !fields.includes(head)) throw unsupported(`selector ${selector.join('.')}: no field ${String(head)} here (fields: ${fields.join(', ')})`);
  }
  return (row) => clauses.every((clause) => test(clause, row));
}
