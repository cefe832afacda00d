import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNormalTarget, judgeTarget, type JudgedTarget } from '../../../../agent/proxy/inbound/policy.js';
import { normalizeRequestPath } from '../../../../shared/policy/index.js';

/** Targets of every shape the fast check must tell apart: clean ones and each spelling normalisation changes or refuses. */
const TARGETS = [
  '/', '/a', '/a/', '/a/b.c/d-e_f~g', "/a!$&'()*+,;=:@", '/a?b=c&d=%2F', '/a?', '/a?x#y', '/.well-known/x', '/a/.b', '/a./b', '/a..',
  '//a', '/a//b', '/a/./b', '/a/../b', '/..', '/.', '/a/..', '/%61', '/%2e%2e/a', '/a%2Fb', '/a%5cb', '/a%00', '/a%zz', '/a#b', '/a b',
  '/a\u0000', '/a\\b', '/é', '/a?b c', '/a?\u0001', '/a?%0a', 'a', '', '*', 'http://x/a', '/a?b?c', '/a[b]',
];

describe('inbound target check: the fast path never disagrees with the normaliser', () => {
  it('takes the fast path only for targets the normaliser returns unchanged', () => {
    for (const raw of TARGETS) {
      const full = normalizeRequestPath(raw);
      if (isNormalTarget(raw)) {
        assert.ok(full.ok, raw);
        assert.equal(full.path + full.query, raw, raw);
      }
    }
    assert.ok(['/', '/a/b.c', '/a?b=1', '/a/'].every(isNormalTarget));
  });

  it('gives the judged path and forwarded target of both paths alike', () => {
    for (const raw of TARGETS) {
      const out: JudgedTarget = { path: '', target: '' };
      const rejected = judgeTarget(raw, 'reject', out);
      const full = normalizeRequestPath(raw);
      if (!full.ok) {
        assert.equal(rejected?.reason, full.reason, raw);
        continue;
      }
      assert.equal(rejected, undefined, raw);
      assert.deepEqual(out, { path: full.path, target: full.path + full.query }, raw);
    }
  });
});
