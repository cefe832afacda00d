import { enforcedPolicy, LivePolicy, parsePolicySet, type EnforcedPolicy } from '../../shared/policy/index.js';
import { TRUST_DOMAIN } from './pki/index.js';

/** Compiles YAML policy documents (of the test trust domain) at `version`, as a follower would enforce them. */
export function testPolicy(yaml: string, version: number): EnforcedPolicy {
  return enforcedPolicy(parsePolicySet([{ file: 'policy.yaml', text: yaml }], { trustDomain: TRUST_DOMAIN }), version);
}

/**
 * A LivePolicy the test moves forward by hand: `apply(yaml)` enforces the documents as the next
 * version (versions only grow, as the policy stream's sequence does).
 */
export class TestPolicy {
  readonly live = new LivePolicy();
  #version = 0;

  apply(yaml: string): EnforcedPolicy {
    this.#version += 1;
    const next = testPolicy(yaml, this.#version);
    this.live.replace(next);
    return next;
  }

  get version(): number {
    return this.#version;
  }
}

/** A revocation document naming `entries` (identity or serial), valid for a day. */
export function revocationYaml(entries: readonly ({ identity: string } | { serial: string })[]): string {
  const notAfter = new Date(Date.now() + 86_400_000).toISOString();
  const lines = entries.map((entry) => ('identity' in entry ? `    - identity: ${entry.identity}\n      notAfter: "${notAfter}"` : `    - serial: "${entry.serial}"\n      notAfter: "${notAfter}"`));
  return `kind: Revocation\nmetadata:\n  name: revoked\nspec:\n  entries:\n${lines.join('\n')}\n`;
}
