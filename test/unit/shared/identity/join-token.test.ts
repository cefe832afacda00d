import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRootAuthority, createSiteAuthority, caSpkiHash, formatJoinToken, hashTokenSecret, newJoinToken, parseJoinToken, tokenSecretMatches } from '../../../../shared/identity/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';

const root = createRootAuthority({ trustDomain: 'acme.internal' });
const { authority } = createSiteAuthority(root, 'eu');

describe('join tokens', () => {
  it('round-trip: mjt1.<site>.<id>.<secret>.<caHash>, the hash being SHA-256 of the site CA SPKI', () => {
    const token = newJoinToken('eu', authority.certificate);
    const text = formatJoinToken(token);
    assert.match(text, /^mjt1\.eu\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(parseJoinToken(`  ${text}\n`), token);
    assert.equal(token.caHash, caSpkiHash(authority.certificate));
    assert.notEqual(newJoinToken('eu', authority.certificate).secret, token.secret);
  });

  it('only the hash of the secret is comparable, in constant time', () => {
    const { secret } = newJoinToken('eu', authority.certificate);
    assert.ok(tokenSecretMatches(secret, hashTokenSecret(secret)));
    assert.ok(!tokenSecretMatches(`${secret}x`, hashTokenSecret(secret)));
    assert.ok(!tokenSecretMatches(secret, 'short'));
  });

  it('malformed tokens are refused with MERIDIAN_ERR_JOIN_TOKEN_INVALID, never echoing the text', () => {
    const good = formatJoinToken(newJoinToken('eu', authority.certificate));
    const parts = good.split('.');
    const bad = [
      '',
      'garbage',
      good.replace('mjt1', 'mjt2'),
      [...parts, 'extra'].join('.'),
      [parts[0], 'EU!', ...parts.slice(2)].join('.'),
      [...parts.slice(0, 2), 'short', ...parts.slice(3)].join('.'),
      [...parts.slice(0, 3), 's/cret'.padEnd(43, 'x'), parts[4]].join('.'),
      [...parts.slice(0, 4), 'abc'].join('.'),
    ];
    for (const text of bad) {
      assert.throws(() => parseJoinToken(text), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_JOIN_TOKEN_INVALID') && !error.message.includes(parts[3] ?? '?'), text);
    }
  });
});
