import assert from 'node:assert/strict';
import { LivePolicy, enforcedPolicy, parsePolicySet } from '../../shared/policy/index.js';
import { TRUST_DOMAIN } from './pki/index.js';

/** One entry of a Revocation document. */
export interface RevocationEntry {
  readonly identity?: string;
  readonly serial?: string;
  /** RFC 3339. */
  readonly notAfter: string;
}

/**
 * A federation's Revocation document as a test edits it: each `revoke` or `lift` enforces the
 * whole document as the next policy version on `policy` (the LivePolicy handed to the parts
 * under test), parsed by the production parser, as a policy follower would.
 */
export class RevocationPolicy {
  readonly policy = new LivePolicy();
  readonly #entries: RevocationEntry[] = [];
  #version = 0;

  /** Adds `entries` and enforces the new version; returns its number. */
  revoke(...entries: RevocationEntry[]): number {
    this.#entries.push(...entries);
    return this.#enforce();
  }

  /** Drops the entries for `identity` and enforces the new version; returns its number. */
  lift(identity: string): number {
    this.#entries.splice(0, this.#entries.length, ...this.#entries.filter((e) => e.identity !== identity));
    return this.#enforce();
  }

  #enforce(): number {
    this.#version += 1;
    const field = (name: string, value: string | undefined): string => (value === undefined ? '' : `${name}: "${value}", `);
    const items = this.#entries.map((e) => `{ ${field('identity', e.identity)}${field('serial', e.serial)}notAfter: ${e.notAfter} }`);
    // Flow style, so a document with every entry lifted is still a list.
    const text = `kind: Revocation\nmetadata: { name: incidents }\nspec:\n  entries: [${items.join(', ')}]\n`;
    const set = parsePolicySet([{ file: 'revocations.yaml', text }], { trustDomain: TRUST_DOMAIN });
    assert.equal(this.policy.replace(enforcedPolicy(set, this.#version)), true, `version ${this.#version} enforced`);
    return this.#version;
  }
}

/** A notAfter past every test certificate's expiry, and one already past. */
export const FAR_FUTURE = (): string => new Date(Date.now() + 48 * 3600_000).toISOString();
export const ALREADY_PAST = (): string => new Date(Date.now() - 60_000).toISOString();
