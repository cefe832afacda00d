import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { signerSubject } from '../../../shared/catalog/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { certificateFacts, chainToPem, createCsr, formatSpiffeId, generatePrivateKey, signProof, verifyPeer, type MtlsIdentity } from '../../../shared/identity/index.js';
import { requestCertificate } from '../../../shared/renewal/index.js';
import { startSecureFederation, useSiteSigner, type SecureFederation } from '../../support/catalog.js';

const ROLE_TTL_MS = 60_000;
const TD = 'acme.internal';
let fed: SecureFederation;
let nc: NatsConnection;
let agent: MtlsIdentity;
const issued: string[] = [];

/** A signed request of `caller` for `uri`, as the renewal code sends it. */
function renewalRequest(caller: MtlsIdentity, uri: string): Record<string, string> {
  const csr = createCsr({ privateKey: generatePrivateKey(), commonName: 'x', uris: [uri] });
  const at = new Date().toISOString();
  return { csr, at, agentChain: chainToPem(caller.chain), proof: signProof(caller.privateKey, at, csr) };
}

async function send(body: Record<string, string>): Promise<{ error?: { code: string; message: string }; chain?: string }> {
  return (await nc.request(signerSubject('solo'), JSON.stringify(body), { timeout: 5000 })).json();
}

before(async () => {
  fed = await startSecureFederation(['solo', 'other']);
  await useSiteSigner(fed, 'solo', { roleTtlMs: ROLE_TTL_MS, issued });
  nc = await fed.connectAgent('solo', 'node-1');
  agent = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-1');
});

describe('the signer renews an agent or gateway identity for its holder only', () => {
  it("renews an agent's own identity with the role lifetime, for a key that stays with the agent", async () => {
    const uri = formatSpiffeId(TD, 'solo', 'agent', 'node-1');
    const key = generatePrivateKey();
    const renewed = await requestCertificate({ nc, caller: agent, site: 'solo', uri, key, commonName: 'node-1' });
    const [leaf, siteCa] = renewed.chain;
    assert.ok(leaf !== undefined && siteCa !== undefined);
    assert.equal(leaf.checkPrivateKey(key), true);
    assert.equal(verifyPeer({ leaf, intermediates: [siteCa] }, agent.bundle, 'client').uri, uri);
    const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.ok(lifetime <= ROLE_TTL_MS + 6000 && lifetime >= ROLE_TTL_MS - 1000, `lifetime ${lifetime} ms`);
    // The renewed certificate is a valid proof for the next renewal.
    await requestCertificate({ nc, caller: renewed, site: 'solo', uri, key: generatePrivateKey(), commonName: 'node-1' });
    assert.deepEqual(issued.splice(0), [uri, uri]);
  });

  it("renews a gateway's own identity", async () => {
    const gateway = fed.pki.issueMtlsIdentity('solo', 'gateway', 'gw-1');
    const uri = formatSpiffeId(TD, 'solo', 'gateway', 'gw-1');
    const renewed = await requestCertificate({ nc, caller: gateway, site: 'solo', uri, key: generatePrivateKey(), commonName: 'gw-1' });
    assert.deepEqual(certificateFacts(renewed.chain[0] ?? assert.fail('no leaf')).uris, [uri]);
    assert.deepEqual(issued.splice(0), [uri]);
  });

  it("refuses an agent asking for another agent's identity or a gateway's, and a gateway asking for a workload", async () => {
    const other = formatSpiffeId(TD, 'solo', 'agent', 'node-2');
    assert.deepEqual(await send(renewalRequest(agent, other)), {
      error: { code: 'MERIDIAN_ERR_SITE_SCOPE', message: `csr.subjectAltName: spiffe://acme.internal/site/solo/agent/node-1 may renew only its own identity; it cannot get ${other}` },
    });
    const gatewayId = formatSpiffeId(TD, 'solo', 'gateway', 'gw-1');
    assert.deepEqual(await send(renewalRequest(agent, gatewayId)), {
      error: { code: 'MERIDIAN_ERR_SITE_SCOPE', message: `csr.subjectAltName: spiffe://acme.internal/site/solo/agent/node-1 may renew only its own identity; it cannot get ${gatewayId}` },
    });
    const gateway = fed.pki.issueMtlsIdentity('solo', 'gateway', 'gw-2');
    assert.deepEqual(await send(renewalRequest(gateway, formatSpiffeId(TD, 'solo', 'svc', 'payments'))), {
      error: { code: 'MERIDIAN_ERR_SITE_SCOPE', message: 'agentChain: spiffe://acme.internal/site/solo/gateway/gw-2 is not an agent; only agents get workload identities' },
    });
    assert.deepEqual(issued, [], 'nothing was issued');
  });

  it('refuses a caller whose certificate has expired, and one of another site', async () => {
    const expiring = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-3', 1000);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiring.chain[0]?.validTo ?? '') - Date.now() + 1100));
    const expired = await send(renewalRequest(expiring, formatSpiffeId(TD, 'solo', 'agent', 'node-3')));
    assert.equal(expired.error?.code, 'MERIDIAN_ERR_CERT_EXPIRED');
    assert.match(expired.error?.message ?? '', /^spiffe:\/\/acme\.internal\/site\/solo\/agent\/node-3: certificate not valid at .* \(valid .* to .*\)$/);
    const foreign = fed.pki.issueMtlsIdentity('other', 'agent', 'node-9');
    assert.deepEqual(await send(renewalRequest(foreign, formatSpiffeId(TD, 'other', 'agent', 'node-9'))), {
      error: { code: 'MERIDIAN_ERR_SITE_SCOPE', message: 'agentChain: spiffe://acme.internal/site/other/agent/node-9 is not an agent or gateway of site solo' },
    });
    // Asking this site for a foreign ID with a local certificate: the CSR names another site.
    const crossSite = await send(renewalRequest(agent, formatSpiffeId(TD, 'other', 'agent', 'node-1')));
    assert.equal(crossSite.error?.code, 'MERIDIAN_ERR_SITE_SCOPE');
    assert.deepEqual(issued, [], 'nothing was issued');
  });

  it('refuses a replayed request: every proof is used once', async () => {
    const body = renewalRequest(agent, formatSpiffeId(TD, 'solo', 'agent', 'node-1'));
    assert.ok((await send(body)).chain !== undefined, 'the first request is answered');
    assert.deepEqual(await send(body), { error: { code: 'MERIDIAN_ERR_PEER_IDENTITY', message: 'proof: already used; every request needs a fresh proof' } });
    assert.deepEqual(issued.splice(0), [formatSpiffeId(TD, 'solo', 'agent', 'node-1')], 'one certificate, for the first request only');
  });
});

describe('refusals name the rule', () => {
  it('a refused request is a MeridianError at the caller', async () => {
    await assert.rejects(
      requestCertificate({ nc, caller: agent, site: 'solo', uri: formatSpiffeId(TD, 'solo', 'agent', 'node-7'), key: generatePrivateKey(), commonName: 'n' }),
      (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_SITE_SCOPE') && error.message.startsWith('signer refused spiffe://acme.internal/site/solo/agent/node-7: csr.subjectAltName:'),
    );
  });
});
