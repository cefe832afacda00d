/**
 * Root rotation and site CA renewal on a temp PKI dir: every step, every refusal with its exact
 * error (and nothing changed by it), interrupted steps completed by a re-run, and leaves issued
 * before, during and after a rotation verified against the bundles that must (not) accept them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  PkiDirectory,
  finishRootRotation,
  issueLocalIdentity,
  pkiStatus,
  renewSiteCa,
  shortFingerprint,
  startRootRotation,
  verifyPeer,
  type TrustBundle,
} from '../../../../shared/identity/index.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function freshPki(...sites: string[]): PkiDirectory {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-rotation-'));
  dirs.push(dir);
  const pki = new PkiDirectory(join(dir, 'pki'));
  pki.initRoot({ trustDomain: 'acme.internal' });
  for (const site of sites) pki.createSite(site);
  return pki;
}

function leaf(pki: PkiDirectory, site: string, name: string): ReturnType<typeof issueLocalIdentity> {
  return issueLocalIdentity(pki.loadSite(site), 'svc', name, { ttlMs: 60_000 });
}

function accepts(bundle: TrustBundle, issued: ReturnType<typeof issueLocalIdentity>): boolean {
  const [certificate, ...intermediates] = issued.chain;
  try {
    verifyPeer({ leaf: certificate!, intermediates }, bundle, 'client');
    return true;
  } catch {
    return false;
  }
}

/** Every file of the PKI dir with its content: a refused step must leave it identical. */
function snapshot(pki: PkiDirectory): string {
  const walk = (dir: string): string[] =>
    existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [`${join(dir, e.name)}=${readFileSync(join(dir, e.name), 'utf8')}`])) : [];
  return walk(pki.dir).sort().join('\n');
}

function refused(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.equal((error as { code?: string }).code, code);
    assert.equal(error.message, message);
    return true;
  });
}

describe('root rotation', () => {
  it('start, renew every site, finish: leaves before, during and after verify against the right bundles', () => {
    const pki = freshPki('eu', 'us');
    const oldRoot = pki.loadRoot().certificate;
    const beforeLeaf = leaf(pki, 'eu', 'before');
    const oldBundle = pki.loadBundle();

    const { next, resumed } = startRootRotation(pki);
    assert.equal(resumed, false);
    const both = pki.loadBundle();
    assert.deepEqual(both.roots.map(shortFingerprint), [shortFingerprint(oldRoot), shortFingerprint(next.certificate)]);
    assert.equal(pki.bundleVersion(), 2);
    assert.equal(statSync(pki.nextRootPaths().key).mode & 0o777, 0o600);
    assert.equal(pki.loadSigningRoot().certificate.fingerprint256, next.certificate.fingerprint256);
    assert.deepEqual(pkiStatus(pki).roots.map((r) => r.role), ['retiring', 'signing']);

    const duringOldChain = leaf(pki, 'us', 'during-old');
    const passwords = pki.siteNatsPasswords('eu');
    const renewed = renewSiteCa(pki, 'eu');
    assert.ok(renewed.certificate.checkIssued(next.certificate) && renewed.certificate.verify(next.certificate.publicKey), 'the next root signs renewed site CAs');
    assert.ok(existsSync(join(renewed.retiredDir, 'ca.key')) && existsSync(join(renewed.retiredDir, 'ca.crt')), 'the previous CA is kept');
    assert.deepEqual(pki.siteNatsPasswords('eu'), passwords, 'a new site CA key keeps the NATS passwords');
    const duringNewChain = leaf(pki, 'eu', 'during-new');
    for (const issued of [beforeLeaf, duringOldChain, duringNewChain]) assert.ok(accepts(both, issued), `${issued.identity.uri} during the rotation`);
    assert.equal(accepts(oldBundle, duringNewChain), false, 'the old bundle alone does not accept the new chain: processes need old + new first');
    assert.deepEqual(pkiStatus(pki).sites.map((site) => [site.site, site.underSigningRoot]), [['eu', true], ['us', false]]);

    renewSiteCa(pki, 'us', { keepKey: true });
    const finished = finishRootRotation(pki, { leafTtlMs: 0 });
    assert.equal(finished.root.fingerprint256, next.certificate.fingerprint256);
    assert.equal(finished.retiredDir, join(pki.dir, 'root', `retired-${shortFingerprint(oldRoot)}`));
    assert.ok(existsSync(join(finished.retiredDir, 'ca.key')), 'the old root key is kept, not deleted');
    assert.equal(existsSync(join(pki.dir, 'root', 'next')), false);
    const newOnly = pki.loadBundle();
    assert.deepEqual(newOnly.roots.map(shortFingerprint), [shortFingerprint(next.certificate)]);
    const afterLeaf = leaf(pki, 'us', 'after');
    assert.ok(accepts(newOnly, afterLeaf) && accepts(newOnly, duringNewChain));
    assert.equal(accepts(newOnly, beforeLeaf), false, 'leaves of the old chain are cut off once finished');
    assert.equal(accepts(newOnly, duringOldChain), false);
    assert.deepEqual(pkiStatus(pki).roots.map((r) => r.role), ['signing']);
  });

  it('refuses every misuse with a stable code and an exact message, and changes nothing', () => {
    const pki = freshPki('eu');
    const idle = snapshot(pki);
    refused(() => finishRootRotation(pki), 'MERIDIAN_ERR_ROTATION_NOT_STARTED', `no root rotation is under way in ${pki.dir}: run 'meridian ca rotate start' first`);
    refused(() => renewSiteCa(pki, 'us'), 'MERIDIAN_ERR_BAD_ARGUMENT', `site us has no CA in ${pki.dir}: run 'meridian ca site us' first`);
    refused(() => renewSiteCa(pki, 'eu', { csr: 'x', keepKey: true }), 'MERIDIAN_ERR_BAD_ARGUMENT', '--keep-key cannot be used with --csr: the CSR names the key');
    assert.equal(snapshot(pki), idle);

    const { next } = startRootRotation(pki);
    const started = snapshot(pki);
    const fp = shortFingerprint(next.certificate);
    refused(() => startRootRotation(pki), 'MERIDIAN_ERR_ROTATION_IN_PROGRESS', `a root rotation is already under way in ${pki.dir} (next root ${fp}): renew each site CA with 'meridian ca site <site> --renew', then run 'meridian ca rotate finish'`);
    const oldFp = shortFingerprint(pki.loadRoot().certificate);
    refused(() => finishRootRotation(pki), 'MERIDIAN_ERR_ROTATION_INCOMPLETE', `cannot finish the root rotation: site CAs still chain to the root being retired (${oldFp}): eu: run 'meridian ca site <site> --renew' for each (or pass --force)`);
    assert.equal(snapshot(pki), started);

    const renewed = renewSiteCa(pki, 'eu', { now: new Date('2026-01-01T00:00:00Z') });
    const safeAt = new Date(new Date(renewed.certificate.validFrom).getTime() + 60_000 + 3_600_000).toISOString();
    const afterRenewal = snapshot(pki);
    refused(
      () => finishRootRotation(pki, { leafTtlMs: 3_600_000, now: new Date('2026-01-01T00:30:00Z') }),
      'MERIDIAN_ERR_ROTATION_INCOMPLETE',
      `cannot finish the root rotation: site eu: leaves its previous CA signed may be valid until ${safeAt} (leaf lifetime 1h): finish after that (or pass --force)`,
    );
    assert.equal(snapshot(pki), afterRenewal);
    assert.equal(finishRootRotation(pki, { leafTtlMs: 3_600_000, now: new Date('2026-01-01T01:02:00Z') }).resumed, false);
    refused(() => finishRootRotation(pki), 'MERIDIAN_ERR_ROTATION_NOT_STARTED', `no root rotation is under way in ${pki.dir}: run 'meridian ca rotate start' first`);
  });

  it('--force finishes with a site still under the old root and says what it overrode', () => {
    const pki = freshPki('eu');
    const oldFp = shortFingerprint(pki.loadRoot().certificate);
    startRootRotation(pki);
    const finished = finishRootRotation(pki, { force: true });
    assert.deepEqual(finished.overridden, [`site CAs still chain to the root being retired (${oldFp}): eu: run 'meridian ca site <site> --renew' for each`]);
    assert.equal(pkiStatus(pki).sites[0]?.root, undefined, 'status shows the site CA chains to no root of the bundle');
  });

  it('a re-run completes a start or a finish a crash cut short', () => {
    const pki = freshPki('eu');
    const { next } = startRootRotation(pki);
    // A start cut off before the bundle was written: the next root exists, the bundle lacks it.
    pki.writeBundle([pki.loadRoot().certificate]);
    const resumed = startRootRotation(pki);
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.next.certificate.fingerprint256, next.certificate.fingerprint256);
    assert.equal(pki.loadBundle().roots.length, 2);

    renewSiteCa(pki, 'eu');
    // A finish cut off after the old root moved away, before the next root moved in.
    const oldRoot = pki.loadRoot().certificate;
    const retired = join(pki.dir, 'root', `retired-${shortFingerprint(oldRoot)}`);
    rmSync(retired, { recursive: true, force: true });
    mkdirSync(retired, { recursive: true });
    renameSync(pki.rootPaths().key, join(retired, 'ca.key'));
    renameSync(pki.rootPaths().cert, join(retired, 'ca.crt'));
    const finished = finishRootRotation(pki);
    assert.equal(finished.root.fingerprint256, next.certificate.fingerprint256);
    assert.deepEqual(pki.loadBundle().roots.map(shortFingerprint), [shortFingerprint(next.certificate)]);

    // A finish cut off before the bundle was rewritten: only the bundle is left to do.
    pki.writeBundle([oldRoot, next.certificate]);
    const completed = finishRootRotation(pki);
    assert.equal(completed.resumed, true);
    assert.equal(pki.loadBundle().roots.length, 1);
  });

  it('renews a site CA outside a rotation under the current root, with a new key by default', () => {
    const pki = freshPki('eu');
    const keyBefore = readFileSync(pki.sitePaths('eu').key, 'utf8');
    const renewed = renewSiteCa(pki, 'eu');
    assert.ok(renewed.certificate.checkIssued(pki.loadRoot().certificate));
    assert.notEqual(readFileSync(pki.sitePaths('eu').key, 'utf8'), keyBefore);
    assert.equal(statSync(pki.sitePaths('eu').key).mode & 0o777, 0o600);
    const kept = renewSiteCa(pki, 'eu', { keepKey: true });
    assert.equal(kept.certificate.publicKey.export({ type: 'spki', format: 'pem' }), renewed.certificate.publicKey.export({ type: 'spki', format: 'pem' }));
    assert.ok(accepts(pki.loadBundle(), leaf(pki, 'eu', 'x')));
  });
});
