/**
 * SPIFFE ID patterns: `spiffe://<td>/site/<site>/svc/<service>` with, per path segment, an exact
 * name or `*` (any one segment), and optionally a final `**` (any remaining segments: a prefix).
 * Never regular expressions: a pattern is compiled into a trie, so its meaning is its segments.
 */

const SCHEME = 'spiffe://';
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** A parsed pattern: its segments after the trust domain; `*` and `**` keep their meaning. */
export interface IdentityPattern {
  readonly segments: readonly string[];
}

/**
 * Parses `text` into an identity pattern of `trustDomain`, or returns why it is not one
 * (a message naming the offending part).
 */
export function parseIdentityPattern(text: string, trustDomain: string): IdentityPattern | string {
  if (!text.startsWith(SCHEME)) return `${JSON.stringify(text)}: an identity pattern starts with 'spiffe://'`;
  const rest = text.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const domain = slash === -1 ? rest : rest.slice(0, slash);
  if (domain !== trustDomain) return `${JSON.stringify(text)}: trust domain ${JSON.stringify(domain)} is not the federation's (${JSON.stringify(trustDomain)})`;
  if (slash === -1 || slash === rest.length - 1) return `${JSON.stringify(text)}: no path (write spiffe://${trustDomain}/** for every identity)`;
  const segments = rest.slice(slash + 1).split('/');
  for (const [index, segment] of segments.entries()) {
    const problem = segmentProblem(segment, index === segments.length - 1);
    if (problem !== undefined) return `${JSON.stringify(text)}: segment ${index + 1} ${JSON.stringify(segment)}: ${problem}`;
  }
  return { segments };
}

function segmentProblem(segment: string, last: boolean): string | undefined {
  if (segment === '') return 'empty';
  if (segment === '*') return undefined;
  if (segment === '**') return last ? undefined : "'**' may only end a pattern";
  if (segment.includes('*')) return "'*' must be a whole segment (no partial wildcards)";
  if (segment === '.' || segment === '..') return "'.' and '..' are not identity segments";
  if (!SEGMENT.test(segment)) return 'only letters, digits, ".", "_" and "-" (patterns are not regular expressions)';
  return undefined;
}
