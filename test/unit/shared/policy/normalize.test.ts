import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerValues, normalizeHost, normalizeMethod, normalizeRequestPath, type NormalizeOptions } from '../../../../shared/policy/index.js';

function path(raw: string, options?: NormalizeOptions): string {
  const result = normalizeRequestPath(raw, options);
  assert.ok(result.ok, `${raw} was refused: ${result.ok ? '' : result.reason}`);
  return result.path;
}

function refused(raw: string, options?: NormalizeOptions): string {
  const result = normalizeRequestPath(raw, options);
  assert.equal(result.ok, false, `${raw} was accepted`);
  assert.equal(result.ok ? '' : result.code, 'MERIDIAN_ERR_BAD_REQUEST');
  return result.ok ? '' : result.reason;
}

describe('normalizeRequestPath', () => {
  it('keeps a plain path and its query as they are', () => {
    assert.deepEqual(normalizeRequestPath('/api/v1/orders?id=7&x=%20'), { ok: true, path: '/api/v1/orders', query: '?id=7&x=%20' });
    assert.equal(path('/'), '/');
  });

  it('decodes percent-encoded unreserved characters, keeps (upper-cased) the other escapes', () => {
    assert.equal(path('/%61dmin/%7Euser/%2d%5f'), '/admin/~user/-_');
    assert.equal(path('/a%20b/%3f/%c3%a9'), '/a%20b/%3F/%C3%A9');
  });

  it('refuses %2F and %5C by default (CVE-2021-31920), in either case', () => {
    assert.equal(refused('/admin%2Fsecret'), "an encoded slash '%2F'");
    assert.equal(refused('/admin%2fsecret'), "an encoded slash '%2F'");
    assert.equal(refused('/admin%5Csecret'), "an encoded backslash '%5C'");
    assert.equal(refused('/admin%5csecret'), "an encoded backslash '%5C'");
  });

  it("with encodedSlashes 'keep', keeps them encoded: one opaque segment, never a separator", () => {
    assert.equal(path('/a%2fb/../c', { encodedSlashes: 'keep' }), '/c');
    assert.equal(path('/a%2fb/c', { encodedSlashes: 'keep' }), '/a%2Fb/c');
    assert.equal(path('/a%5cb', { encodedSlashes: 'keep' }), '/a%5Cb');
  });

  it('refuses a raw backslash (some apps read it as a slash)', () => {
    assert.equal(refused('/public\\..\\admin'), "a backslash '\\'");
  });

  it('resolves dot segments, plain and percent-encoded, never above the root', () => {
    assert.equal(path('/public/../admin'), '/admin');
    assert.equal(path('/public/%2e%2e/admin'), '/admin');
    assert.equal(path('/public/%2E%2E/admin'), '/admin');
    assert.equal(path('/public/.%2e/admin'), '/admin');
    assert.equal(path('/./a/./b/.'), '/a/b/');
    assert.equal(path('/../../etc/passwd'), '/etc/passwd');
    assert.equal(path('/a/b/..'), '/a/');
    assert.equal(path('/a/..'), '/');
  });

  it('merges repeated slashes', () => {
    assert.equal(path('//admin///users//'), '/admin/users/');
    assert.equal(path('/a//../b'), '/b');
  });

  it('drops the fragment (CVE-2021-39156), before or after a query', () => {
    assert.deepEqual(normalizeRequestPath('/admin#/public'), { ok: true, path: '/admin', query: '' });
    assert.deepEqual(normalizeRequestPath('/admin?a=1#x'), { ok: true, path: '/admin', query: '?a=1' });
  });

  it('refuses NUL and control characters, raw or encoded, in path or query', () => {
    assert.equal(refused('/admin\u0000.html'), 'a control character (NUL, CR, LF...)');
    assert.equal(refused('/admin%00.html'), 'an encoded control character (NUL, CR, LF...)');
    assert.equal(refused('/a%0d%0aSet-Cookie:x'), 'an encoded control character (NUL, CR, LF...)');
    assert.equal(refused('/a%7f'), 'an encoded control character (NUL, CR, LF...)');
    assert.equal(refused('/a\tb'), 'a control character (NUL, CR, LF...)');
    assert.equal(refused('/a?x=\n'), 'a control character in the query');
    assert.equal(refused('/a?x=%00'), 'an encoded control character in the query');
  });

  it('refuses invalid and truncated percent sequences', () => {
    assert.equal(refused('/a%zz'), 'invalid percent-encoding at offset 2');
    assert.equal(refused('/a%2'), 'invalid percent-encoding at offset 2');
    assert.equal(refused('/a%'), 'invalid percent-encoding at offset 2');
    assert.equal(refused('/a%%32%65'), 'invalid percent-encoding at offset 2');
    assert.equal(refused('/a?b=%g1'), 'invalid percent-encoding in the query');
  });

  it('keeps overlong UTF-8 encodings of "." and "/" encoded: they never become separators or dot segments', () => {
    assert.equal(path('/public/%c0%ae%c0%ae/admin'), '/public/%C0%AE%C0%AE/admin');
    assert.equal(path('/a%c0%afb'), '/a%C0%AFb');
  });

  it('refuses raw spaces, non-ASCII and characters a path may not hold', () => {
    assert.equal(refused('/a b'), 'character " " is not allowed in a path');
    assert.equal(refused('/é'), 'character "é" is not allowed in a path');
    assert.equal(refused('/a<script>'), 'character "<" is not allowed in a path');
  });

  it('refuses a target that is not origin-form', () => {
    assert.equal(refused('admin'), "the path must start with '/'");
    assert.equal(refused('http://x/admin'), "the path must start with '/'");
    assert.equal(refused(''), "the path must start with '/'");
  });
});

describe('method, host and header normalisation', () => {
  it('compares methods in upper case and hosts in lower case without a trailing dot (CVE-2021-39155)', () => {
    assert.equal(normalizeMethod('get'), 'GET');
    assert.equal(normalizeMethod('PoSt'), 'POST');
    assert.equal(normalizeHost('Payments.MESH'), 'payments.mesh');
    assert.equal(normalizeHost('payments.mesh.'), 'payments.mesh');
  });

  it('reads every value of a header, repeated or comma-joined (CVE-2020-25017)', () => {
    assert.deepEqual(headerValues('a'), ['a']);
    assert.deepEqual(headerValues('a, b,c'), ['a', 'b', 'c']);
    assert.deepEqual(headerValues(['a', 'b, c']), ['a', 'b', 'c']);
    assert.deepEqual(headerValues(undefined), []);
    assert.deepEqual(headerValues(''), ['']);
  });
});
