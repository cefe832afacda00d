import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chainToPem, loadMtlsIdentity, writeIdentityFiles } from '../../../../shared/identity/index.js';
import { privateKeyToPem } from '../../../../shared/identity/keys.js';
import { TRUST_DOMAIN, TestTrustDomain } from '../../../support/pki/index.js';

const td = new TestTrustDomain();
const before = td.identity('eu', 'agent', 'node-1');
const renewed = td.identity('eu', 'agent', 'node-1');
const root = mkdtempSync(join(tmpdir(), 'meridian-identity-files-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh directory holding `before`'s key, chain and the bundle, as a running role has them. */
function roleFiles(name: string): { keyFile: string; certFile: string; bundleFile: string; trustDomain: string } {
  const files = { keyFile: join(root, `${name}.key`), certFile: join(root, `${name}.crt`), bundleFile: join(root, `${name}-bundle.pem`), trustDomain: TRUST_DOMAIN };
  writeIdentityFiles(files, before);
  writeFileSync(files.bundleFile, before.bundle.toPem());
  return files;
}

const serialOf = (identity: { chain: readonly { serialNumber: string }[] }): string | undefined => identity.chain[0]?.serialNumber;

describe('identity files of a renewing role', () => {
  it('a renewal replaces key and chain (0600 both) and leaves nothing pending', () => {
    const files = roleFiles('renewal');
    writeIdentityFiles(files, renewed);
    assert.equal(serialOf(loadMtlsIdentity(files)), serialOf(renewed));
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(files.certFile).mode & 0o777, 0o600);
    assert.equal(existsSync(`${files.certFile}.next`), false);
  });

  it('a crash between the key and the chain: the next load finds the renewed chain and moves it into place', () => {
    const files = roleFiles('crash');
    // What a crash right after the key's rename leaves: the new key, the old chain, the new chain pending.
    writeFileSync(`${files.certFile}.next`, chainToPem(renewed.chain), { mode: 0o600 });
    writeFileSync(files.keyFile, privateKeyToPem(renewed.privateKey), { mode: 0o600 });
    const loaded = loadMtlsIdentity(files);
    assert.equal(serialOf(loaded), serialOf(renewed));
    assert.equal(readFileSync(files.certFile, 'utf8'), chainToPem(renewed.chain));
    assert.equal(existsSync(`${files.certFile}.next`), false);
  });

  it('a crash before the key moved: the old pair still loads, the pending chain is not used', () => {
    const files = roleFiles('early-crash');
    writeFileSync(`${files.certFile}.next`, chainToPem(renewed.chain), { mode: 0o600 });
    assert.equal(serialOf(loadMtlsIdentity(files)), serialOf(before));
  });

  it('a certificate that is not for the key fails the load, naming both files', () => {
    const files = roleFiles('mismatch');
    writeFileSync(files.certFile, chainToPem(renewed.chain));
    assert.throws(() => loadMtlsIdentity(files), {
      code: 'MERIDIAN_ERR_CERT_INVALID',
      message: `${files.certFile}: its certificate is not for the key in ${files.keyFile}`,
    });
  });
});
