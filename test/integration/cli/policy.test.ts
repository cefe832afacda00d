import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCliSync, type CliResult } from '../../support/cli.js';
import { useTempDir } from '../../support/harness.js';

const work = useTempDir('meridian-policy-');

function meridian(...args: string[]): CliResult {
  return runCliSync(args, { cwd: work, timeoutMs: 20_000 });
}

function write(path: string, text: string): string {
  mkdirSync(join(work, path, '..'), { recursive: true });
  writeFileSync(join(work, path), text);
  return path;
}

const ALLOW = `kind: Authorization
metadata: { name: payments-callers }
spec:
  action: allow
  service: payments
  rules:
    - from: [spiffe://acme.internal/site/*/svc/orders]
      to: [{ methods: [GET, POST], paths: [{ prefix: /api/ }] }]
`;
const DENY = `kind: Authorization
metadata: { name: no-lab }
spec:
  action: deny
  service: "*"
  rules: [{ from: ["spiffe://acme.internal/site/lab/**"] }]
---
kind: Revocation
metadata: { name: incidents }
spec:
  entries: [{ serial: "0a1b", notAfter: 2027-01-01T00:00:00Z }]
`;

describe('meridian policy validate', () => {
  it('prints a summary of a valid directory (every *.yaml and *.yml, sorted) and its digest, exit 0', () => {
    write('set/10-allow.yaml', ALLOW);
    write('set/20-deny.yml', DENY);
    write('set/notes.txt', 'not a policy');
    const result = meridian('policy', 'validate', '-f', 'set', '--trust-domain', 'acme.internal');
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'policy set valid: 2 files, trust domain acme.internal',
      '  Authorization   2 (2 rules)',
      '  Revocation      1 (1 entries)',
      '  PolicyDefaults  0 (built-in: default deny, mTLS strict)',
    ]);
    assert.match(lines[4] ?? '', /^digest sha256:[0-9a-f]{64}$/);
    const single = meridian('policy', 'validate', '-f', 'set/10-allow.yaml', '--trust-domain', 'acme.internal');
    assert.equal(single.code, 0, single.stderr);
    assert.match(single.stdout, /^policy set valid: 1 file, trust domain acme.internal\n {2}Authorization {3}1 \(1 rules\)/);
  });

  it('prints every violation with file, document and path on stderr, exit 1', () => {
    write('bad/a.yaml', `${ALLOW.replace('orders]', 'orders, "spiffe://acme.internal/site/eu*/svc/x"]')}---\nkind: Secret\n`);
    write('bad/b.yaml', ALLOW.replace('paths: [{ prefix: /api/ }]', 'paths: [{ exact: "/api//x" }]'));
    const result = meridian('policy', 'validate', '-f', 'bad', '--trust-domain', 'acme.internal');
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      [
        'policy set invalid: 4 violations',
        'bad/a.yaml#0 /spec/rules/0/from/1: "spiffe://acme.internal/site/eu*/svc/x": segment 2 "eu*": \'*\' must be a whole segment (no partial wildcards)',
        'bad/a.yaml#1 /kind: unknown kind "Secret" (expected Authorization, Revocation, PolicyDefaults, RateLimit)',
        'bad/b.yaml#0 /spec/rules/0/to/0/paths/0: "/api//x" is not normalised (requests are judged as "/api/x")',
        'bad/b.yaml#0 /metadata/name: duplicate Authorization "payments-callers" (first in bad/a.yaml#0)',
        '',
      ].join('\n'),
    );
  });

  it('judges identities against the trust domain of the PKI dir when --trust-domain is not given', () => {
    assert.equal(meridian('ca', 'init', '--trust-domain', 'other.internal', '--dir', 'pki').code, 0);
    const result = meridian('policy', 'validate', '-f', 'set/10-allow.yaml', '--dir', 'pki');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /trust domain "acme.internal" is not the federation's \("other.internal"\)/);
  });

  it('refuses a missing file, an empty directory and a missing trust domain with a usage error', () => {
    const missing = meridian('policy', 'validate', '-f', 'nope.yaml', '--trust-domain', 'acme.internal');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^meridian: MERIDIAN_ERR_FILE_IO: -f nope.yaml: ENOENT/);
    mkdirSync(join(work, 'empty'));
    const empty = meridian('policy', 'validate', '-f', 'empty', '--trust-domain', 'acme.internal');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /-f empty: no \*\.yaml or \*\.yml file in this directory/);
    const noDomain = meridian('policy', 'validate', '-f', 'set', '--dir', 'no-pki');
    assert.equal(noDomain.code, 2);
    assert.match(noDomain.stderr, /--trust-domain <td> is required \(no trust domain in no-pki:/);
  });
});
