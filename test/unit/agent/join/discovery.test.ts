import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControlAddress, verifyControlChain } from '../../../../agent/join/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';
import { createRootAuthority, createSiteAuthority, issueLocalIdentity, newJoinToken } from '../../../../shared/identity/index.js';

const root = createRootAuthority({ trustDomain: 'acme.internal' });
const eu = createSiteAuthority(root, 'eu').authority;
const us = createSiteAuthority(root, 'us').authority;
const control = issueLocalIdentity(eu, 'svc', 'control');
const token = newJoinToken('eu', eu.certificate);
const expect = { token, trustDomain: 'acme.internal' };
const mismatch = (error: unknown): boolean => isMeridianError(error, 'MERIDIAN_ERR_JOIN_CA_MISMATCH') && /nothing was sent/.test(error.message);

describe('authenticating the control service by the token CA hash', () => {
  it('accepts the control identity of the token site signed by the CA with the hash', () => {
    verifyControlChain(control.chain, expect);
  });

  it('refuses another CA, another role, another site, a missing CA and an expired chain', () => {
    const otherSite = issueLocalIdentity(us, 'svc', 'control');
    assert.throws(() => verifyControlChain(otherSite.chain, expect), mismatch, 'a control service of another site');
    assert.throws(() => verifyControlChain(otherSite.chain, { ...expect, token: { ...token, caHash: newJoinToken('us', us.certificate).caHash } }), mismatch, 'the token site is eu');
    assert.throws(() => verifyControlChain(issueLocalIdentity(eu, 'gateway', 'gw-1').chain, expect), mismatch, 'a gateway of the right site');
    assert.throws(() => verifyControlChain(issueLocalIdentity(eu, 'svc', 'web').chain, expect), mismatch, 'a workload of the right site');
    assert.throws(() => verifyControlChain([control.certificate], expect), mismatch, 'no CA presented');
    // A leaf of the eu control name signed by us, presented with eu's CA to match the hash.
    assert.throws(() => verifyControlChain([otherSite.certificate, eu.certificate], expect), mismatch, 'a leaf the CA did not sign');
    assert.throws(() => verifyControlChain(control.chain, expect, new Date(Date.now() + 400 * 86_400_000)), mismatch, 'expired');
  });

  it('reads host:port and [v6]:port, and refuses anything else naming --control', () => {
    assert.deepEqual(parseControlAddress('control.eu.internal:8443'), { host: 'control.eu.internal', port: 8443 });
    assert.deepEqual(parseControlAddress('[::1]:8443'), { host: '::1', port: 8443 });
    for (const bad of ['control', 'https://control:8443', 'control:0', 'control:70000', '::1:8443', '']) {
      assert.throws(() => parseControlAddress(bad), (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_BAD_ARGUMENT') && /--control/.test(error.message), bad);
    }
  });
});
