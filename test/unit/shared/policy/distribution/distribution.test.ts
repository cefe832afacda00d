import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { isMeridianError } from '../../../../../shared/errors/index.js';
import { parsePolicySet, type PolicySource } from '../../../../../shared/policy/index.js';
import {
  DEFAULTS_FILE,
  MAX_POLICY_RECORD_BYTES,
  REVOCATIONS_FILE,
  decodePolicyRecord,
  diffPolicySets,
  encodePolicyRecord,
  loadPolicyCopy,
  loadPolicyCopyOrSetAside,
  savePolicyCopy,
  withRevocation,
  type PolicyRecord,
} from '../../../../../shared/policy/distribution/index.js';
import { TD } from '../fixtures.js';

const AUTH = (prefix: string, name = 'payments-callers'): PolicySource => ({
  file: `${name}.yaml`,
  text: `kind: Authorization\nmetadata: { name: ${name} }\nspec:\n  action: allow\n  service: payments\n  rules:\n    - from: [spiffe://acme.internal/site/*/svc/orders]\n      to: [{ paths: [{ prefix: ${prefix} }] }]\n`,
});

/** The body published for a record: everything but the version. */
function bodyOf(full: PolicyRecord): Omit<PolicyRecord, 'version'> {
  const { digest, sources, appliedAt, appliedBy, basedOn } = full;
  return { digest, sources, appliedAt, appliedBy, basedOn };
}

function record(sources: PolicySource[], version = 3): PolicyRecord {
  return { version, digest: parsePolicySet(sources, { trustDomain: TD }).digest, sources, appliedAt: '2026-12-01T00:00:00.000Z', appliedBy: { site: 'a', who: 'ops' }, basedOn: version - 1 };
}

const dir = mkdtempSync(join(tmpdir(), 'meridian-policy-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('policy record', () => {
  it('round-trips without its version (the stream sequence gives it on read)', () => {
    const original = record([AUTH('/api/')], 7);
    const body = bodyOf(original);
    const bytes = encodePolicyRecord(body);
    assert.equal((JSON.parse(new TextDecoder().decode(bytes)) as { version?: number }).version, undefined);
    assert.deepEqual(decodePolicyRecord(bytes, 7), original);
  });

  it('a body with a forged version takes the sequence, and a garbled one names the version and field', () => {
    const body = bodyOf(record([AUTH('/api/')]));
    assert.equal(decodePolicyRecord(JSON.stringify({ ...body, version: 99 }), 4).version, 4);
    assert.throws(() => decodePolicyRecord('{"digest":1}', 5), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID') && /policy version 5: \/digest/.test(error.message));
    assert.throws(() => decodePolicyRecord('not json', 6), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID') && /policy version 6: not JSON/.test(error.message));
  });

  it('a set over 512 KiB is refused with BODY_TOO_LARGE naming its files and the limit', () => {
    const big = { file: 'huge.yaml', text: `# ${'x'.repeat(MAX_POLICY_RECORD_BYTES)}\n` };
    const body = bodyOf(record([AUTH('/api/')]));
    assert.throws(() => encodePolicyRecord({ ...body, sources: [big] }), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_BODY_TOO_LARGE') && /huge\.yaml/.test(error.message) && /524288 bytes/.test(error.message));
  });
});

describe('on-disk policy copy', () => {
  it('saves 0600 and loads the version it holds, compiled', () => {
    const file = join(dir, 'copy.json');
    savePolicyCopy(file, record([AUTH('/api/')], 12));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const loaded = loadPolicyCopy(file, TD);
    assert.equal(loaded?.version, 12);
    assert.equal(loaded?.set?.authorizations[0]?.metadata.name, 'payments-callers');
    assert.equal(loadPolicyCopy(join(dir, 'none.json'), TD), null);
  });

  it('a truncated copy, or one of another trust domain, is set aside beside the file and the caller starts from nothing', () => {
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, '{"format":1,"record":{"vers');
    const told: (string | undefined)[] = [];
    assert.equal(loadPolicyCopyOrSetAside(truncated, TD, (movedTo) => told.push(movedTo)), null);
    assert.equal(existsSync(truncated), false);
    assert.ok(told[0]?.startsWith(`${truncated}.corrupt-`));
    const foreign = join(dir, 'foreign.json');
    savePolicyCopy(foreign, record([AUTH('/api/')], 2));
    assert.equal(loadPolicyCopyOrSetAside(foreign, 'other.example', () => undefined), null);
    assert.ok(readdirSync(dir).some((name) => name.startsWith('foreign.json.corrupt-')));
  });
});

describe('diffPolicySets', () => {
  const set = (sources: PolicySource[]) => parsePolicySet(sources, { trustDomain: TD });

  it('compares documents by kind and name, whatever the files and formatting', () => {
    const a = set([AUTH('/api/'), AUTH('/x/', 'other')]);
    assert.deepEqual(diffPolicySets(a, set([AUTH('/x/', 'other'), { ...AUTH('/api/'), file: 'renamed.yaml' }])), []);
    assert.deepEqual(diffPolicySets(a, set([AUTH('/v2/'), AUTH('/y/', 'third')])), [
      { kind: 'Authorization', name: 'other', change: 'removed' },
      { kind: 'Authorization', name: 'payments-callers', change: 'changed' },
      { kind: 'Authorization', name: 'third', change: 'added' },
    ]);
    assert.deepEqual(diffPolicySets(null, a).map((c) => c.change), ['added', 'added']);
  });
});

describe('withRevocation', () => {
  const now = new Date('2026-12-03T12:00:00Z');
  const entriesOf = (sources: PolicySource[]): unknown[] => {
    const source = sources.find((s) => s.file === REVOCATIONS_FILE);
    return (parseAllDocuments(source?.text ?? '')[0]?.toJS() as { spec: { entries: unknown[] } }).spec.entries;
  };

  it('adds an entry to the managed document, keeps the other files, and the result is a valid set', () => {
    const first = withRevocation([AUTH('/api/')], { identity: 'spiffe://acme.internal/site/b/svc/orders', notAfter: '2026-12-04T12:00:00.000Z' }, now);
    assert.deepEqual(first.map((s) => s.file), ['payments-callers.yaml', REVOCATIONS_FILE]);
    const second = withRevocation(first, { serial: '0a:1b', notAfter: '2026-12-05T00:00:00.000Z', reason: 'leak' }, now);
    assert.equal(entriesOf(second).length, 2);
    assert.equal(parsePolicySet(second, { trustDomain: TD }).revocations[0]?.spec.entries.length, 2);
  });

  it('prunes expired entries and replaces an entry for the same subject', () => {
    const old = withRevocation([AUTH('/api/')], { identity: 'spiffe://acme.internal/site/b/svc/old', notAfter: '2026-12-03T11:00:00.000Z' }, new Date('2026-12-03T10:00:00Z'));
    const again = withRevocation(old, { identity: 'spiffe://acme.internal/site/b/svc/new', notAfter: '2026-12-04T00:00:00.000Z' }, now);
    assert.deepEqual(entriesOf(again), [{ identity: 'spiffe://acme.internal/site/b/svc/new', notAfter: '2026-12-04T00:00:00.000Z' }]);
    const replaced = withRevocation(again, { identity: 'spiffe://acme.internal/site/b/svc/new', notAfter: '2026-12-06T00:00:00.000Z' }, now);
    assert.deepEqual(entriesOf(replaced), [{ identity: 'spiffe://acme.internal/site/b/svc/new', notAfter: '2026-12-06T00:00:00.000Z' }]);
  });

  it('the first revocation of a federation without policy also sets defaultAction allow, so nothing else gets denied', () => {
    const sources = withRevocation([], { serial: '0a1b', notAfter: '2026-12-04T00:00:00.000Z' }, now);
    assert.deepEqual(sources.map((s) => s.file), [DEFAULTS_FILE, REVOCATIONS_FILE]);
    assert.equal(parsePolicySet(sources, { trustDomain: TD }).defaults.spec.defaultAction, 'allow');
  });
});
