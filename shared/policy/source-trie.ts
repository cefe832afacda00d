import type { SpiffeId } from '../identity/index.js';
import { operationMatches, type AuthorizationRequestAttributes, type CompiledOperation } from './operations.js';

/** What the authorizer answers: whether the call may go on, which rule (or default) decided, and why. */
export interface Decision {
  readonly allowed: boolean;
  readonly rule: string;
  readonly reason: string;
}

/** A rule of one document, compiled: its operations (none: any request, any connection) and its ready-made decision. */
export interface CompiledRule {
  readonly deny: boolean;
  readonly operations: readonly CompiledOperation[] | undefined;
  readonly decision: Decision;
}

/** The segments of a Meridian SPIFFE path, read without allocating: site/<site>[/<kind>/<name>]. */
function segmentAt(id: SpiffeId, index: number): string | undefined {
  if (index === 0) return 'site';
  if (index === 1) return id.site;
  if (id.kind === 'site') return undefined;
  return index === 2 ? id.kind : index === 3 ? id.name : undefined;
}

function depthOf(id: SpiffeId): number {
  return id.kind === 'site' ? 2 : 4;
}

function firstMatching(rules: readonly CompiledRule[], request: AuthorizationRequestAttributes): CompiledRule | undefined {
  for (const rule of rules) {
    if (rule.operations === undefined) return rule;
    for (const op of rule.operations) if (operationMatches(op, request, rule.deny)) return rule;
  }
  return undefined;
}

/**
 * Rules indexed by the segments of their source patterns: a lookup walks at most one exact and
 * one `*` branch per segment, so its cost follows the identity's depth, not the number of rules.
 */
export class SourceTrie {
  private readonly children = new Map<string, SourceTrie>();
  private anySegment: SourceTrie | undefined;
  private readonly here: CompiledRule[] = [];
  private readonly rest: CompiledRule[] = [];

  add(segments: readonly string[], rule: CompiledRule, depth = 0): void {
    const segment = segments[depth];
    if (segment === undefined) this.here.push(rule);
    else if (segment === '**') this.rest.push(rule);
    else (segment === '*' ? (this.anySegment ??= new SourceTrie()) : this.childFor(segment)).add(segments, rule, depth + 1);
  }

  /** The first rule whose source pattern matches `id` and whose operations match the request. */
  find(id: SpiffeId, request: AuthorizationRequestAttributes, depth = 0): CompiledRule | undefined {
    if (this.rest.length > 0) {
      const found = firstMatching(this.rest, request);
      if (found !== undefined) return found;
    }
    if (depth === depthOf(id)) return this.here.length > 0 ? firstMatching(this.here, request) : undefined;
    const segment = segmentAt(id, depth) ?? '';
    return this.children.get(segment)?.find(id, request, depth + 1) ?? this.anySegment?.find(id, request, depth + 1);
  }

  private childFor(segment: string): SourceTrie {
    let child = this.children.get(segment);
    if (child === undefined) {
      child = new SourceTrie();
      this.children.set(segment, child);
    }
    return child;
  }
}
