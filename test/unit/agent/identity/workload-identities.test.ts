import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkloadIdentities } from '../../../../agent/identity/index.js';
import type { MtlsIdentity } from '../../../../shared/identity/index.js';
import { jsonLogger } from '../../../../shared/telemetry/index.js';
import { TestTrustDomain } from '../../../support/pki/index.js';

describe('workload identities and the trust bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-workloads-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a trust bundle applied while the signer answers is the one the new workload identity carries, not the one it was asked with', async () => {
    const pki = new TestTrustDomain();
    let bundle = pki.bundle;
    let answer: (identity: MtlsIdentity) => void = () => undefined;
    const identities = new WorkloadIdentities({
      dir,
      bundle: () => bundle,
      issue: () => new Promise((resolve) => (answer = resolve)),
      onRenewed: () => undefined,
      log: jsonLogger('test', () => undefined),
    });
    const issued = identities.get('cart');
    // The trust document of a root rotation arrives: the node trusts both roots from now on.
    bundle = bundle.withRoot(new TestTrustDomain().root.certificate);
    identities.rebundle(bundle);
    answer({ ...pki.identity('east', 'svc', 'cart'), bundle: pki.bundle });
    assert.equal((await issued).bundle, bundle);
    assert.equal((await identities.get('cart')).bundle, bundle);
    identities.stop();
  });
});
