import type { AuthorizationDocument, PolicyDefaultsDocument, RateLimitDocument, RevocationDocument } from './schema.js';

/** One source of policy documents: a file name (for messages) and its YAML text. */
export interface PolicySource {
  readonly file: string;
  readonly text: string;
}

export interface ParseOptions {
  /** The federation's trust domain: every identity in the set must belong to it. */
  readonly trustDomain: string;
}

/** One violation: the file, the index of the YAML document in it (from 0), a JSON path in the document, and what is wrong. */
export interface PolicyViolation {
  readonly file: string;
  readonly document: number;
  readonly path: string;
  readonly message: string;
}

/**
 * A validated, deeply frozen policy set. `digest` is a SHA-256 over its documents in a canonical
 * order (kind, then name) and canonical JSON, so the same policies give the same digest
 * whatever their files, order or YAML formatting.
 */
export interface PolicySet {
  readonly trustDomain: string;
  readonly digest: string;
  readonly authorizations: readonly AuthorizationDocument[];
  readonly revocations: readonly RevocationDocument[];
  /** The federation's PolicyDefaults document, or the built-in defaults (deny, strict). */
  readonly defaults: PolicyDefaultsDocument;
  /** RateLimit documents by name (enforced at the destination agents). */
  readonly rateLimits: readonly RateLimitDocument[];
}
