/**
 * Join under a policy with revocations: a node whose agent identity is revoked is refused with
 * MERIDIAN_ERR_REVOKED (403) naming the identity and the policy version, keeps its token unused and
 * gets no files; other nodes join meanwhile, and the node joins with the same token once lifted.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { joinSite } from '../../../agent/join/index.js';
import { connectAsControl, currentControlIdentity } from '../../../services/site/index.js';
import { createJoinToken, openJoinStore, startJoinService, type JoinService } from '../../../services/site/join/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { LiveIdentity, formatSpiffeId } from '../../../shared/identity/index.js';
import { fileScope } from '../../support/harness.js';
import { joiningAgentConfig } from '../../support/join.js';
import { FAR_FUTURE, RevocationPolicy } from '../../support/revocation-policy.js';
import { captureLogger, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;
let join: JoinService;
const revocations = new RevocationPolicy();
const log = captureLogger();

before(async () => {
  site = await useSecureSite({ site: 'gate' });
  const { pki } = site;
  const identity = new LiveIdentity(currentControlIdentity(pki, 'gate'));
  const nc = await connectAsControl({ pki, site: 'gate', natsUrl: site.nats.url, identity: () => identity.current });
  fileScope.after(() => nc.close());
  join = await startJoinService({
    nc,
    pki,
    site: 'gate',
    identity,
    authority: () => pki.loadSite('gate'),
    join: { port: 0, limits: { perAddress: 100 } },
    policy: revocations.policy,
    log: log.log,
  });
  fileScope.after(() => join.stop());
});

async function token(): Promise<string> {
  const store = await openJoinStore({ pki: site.pki, site: 'gate', natsUrl: site.nats.url });
  try {
    return (await createJoinToken(store.kv, { site: 'gate', siteCa: site.pki.loadSiteCertificate('gate') })).text;
  } finally {
    await store.close();
  }
}

const joinAs = async (node: string, text: string): Promise<{ identity: string }> =>
  joinSite({ token: text, control: (join.url ?? '').replace('https://', ''), config: joiningAgentConfig(site, node) });

describe('join refuses a node whose agent identity is revoked', () => {
  it('refused with MERIDIAN_ERR_REVOKED, token unused and no files written; another node joins; lifted, it joins with the same token', async () => {
    const uri = formatSpiffeId('acme.internal', 'gate', 'agent', 'vm-revoked');
    const v = revocations.revoke({ identity: uri, notAfter: FAR_FUTURE() });
    const text = await token();
    await assert.rejects(joinAs('vm-revoked', text), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_REVOKED'), String(error));
      assert.ok(error.message.includes(`node: ${uri} is revoked by policy version ${v}; no certificate is issued for it while the revocation is in force`), error.message);
      return true;
    });
    const config = joiningAgentConfig(site, 'vm-revoked');
    for (const file of [config.nats.keyFile, config.nats.certFile, config.nats.passwordFile]) assert.equal(existsSync(file), false, file);
    assert.ok(log.lines.some((l) => l.message === 'join refused' && l.fields['code'] === 'MERIDIAN_ERR_REVOKED'));

    assert.equal((await joinAs('vm-other', await token())).identity, formatSpiffeId('acme.internal', 'gate', 'agent', 'vm-other'));

    revocations.lift(uri);
    assert.equal((await joinAs('vm-revoked', text)).identity, uri, 'the refused join did not use the token');
  });
});
