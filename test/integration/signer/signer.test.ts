import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { requestWorkloadCertificate } from '../../../agent/identity/request.js';
import { FederatedView, SiteCatalogWriter, ensureSiteBucket, parseServiceDefinition, signerSubject, toInstance } from '../../../shared/catalog/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { certificateFacts, chainToPem, createCsr, formatSpiffeId, generatePrivateKey, signProof, verifyPeer, type MtlsIdentity } from '../../../shared/identity/index.js';
import { startSecureFederation, useSiteSigner, type SecureFederation } from '../../support/catalog.js';
import type { NatsConnection } from '@nats-io/transport-node';

let fed: SecureFederation;
let agentNc: NatsConnection;
let agent: MtlsIdentity;
const issued: string[] = [];
const ROLE_TTL_MS = 60_000;

before(async () => {
  fed = await startSecureFederation(['solo', 'other']);
  const { view } = await useSiteSigner(fed, 'solo', { roleTtlMs: ROLE_TTL_MS, issued });
  agentNc = await fed.connectAgent('solo', 'node-1');
  agent = fed.identity('solo', 'node-1');
  const writer = new SiteCatalogWriter(await ensureSiteBucket(agentNc, 'solo'), 'solo');
  await writer.renewLease('node-1', 600_000);
  await writer.put(toInstance(parseServiceDefinition({ service: 'payments', ports: { http: 8080 } }, 'test'), fed.node('solo', 'node-1'), { leaseTtlMs: 600_000 }));
  await view.ready(20_000);
  await waitForService(view, 'payments');
});

async function waitForService(view: FederatedView, service: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (view.query({ service }).length === 0) {
    if (Date.now() > deadline) throw new Error(`${service} never reached the control view`);
    await view.waitForChange(view.revision, 200);
  }
}

async function refused(promise: Promise<unknown>, code: string, fragment: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isMeridianError(err), String(err));
    assert.equal(err.code, code);
    assert.ok(err.message.includes(fragment), err.message);
    return true;
  });
}

async function rawRequest(body: Record<string, unknown>): Promise<{ error?: { code: string; message: string }; chain?: string }> {
  const reply = await agentNc.request(signerSubject('solo'), JSON.stringify(body), { timeout: 5000 });
  return reply.json();
}

describe('the site certificate signer', () => {
  it("issues a workload certificate to the agent of the node that runs the service, for a key that stays on the node", async () => {
    const workloadKey = generatePrivateKey();
    const identity = await requestWorkloadCertificate({ nc: agentNc, agent, site: 'solo', service: 'payments', workloadKey });
    const [leaf, siteCa] = identity.chain;
    assert.ok(leaf !== undefined && siteCa !== undefined);
    assert.deepEqual(certificateFacts(leaf).uris, ['spiffe://acme.internal/site/solo/svc/payments']);
    assert.equal(leaf.checkPrivateKey(workloadKey), true);
    assert.equal(verifyPeer({ leaf, intermediates: [siteCa] }, agent.bundle, 'server').uri, 'spiffe://acme.internal/site/solo/svc/payments');
    assert.deepEqual(issued, ['spiffe://acme.internal/site/solo/svc/payments']);
  });

  it('refuses a service the node does not run', async () => {
    await refused(
      requestWorkloadCertificate({ nc: agentNc, agent, site: 'solo', service: 'orders', workloadKey: generatePrivateKey() }),
      'MERIDIAN_ERR_SITE_SCOPE',
      'signer refused spiffe://acme.internal/site/solo/svc/orders: agent spiffe://acme.internal/site/solo/agent/node-1 runs no instance of orders',
    );
  });

  it('refuses another node agent asking for a service it does not run', async () => {
    const otherNode = fed.identity('solo', 'node-2');
    await refused(
      requestWorkloadCertificate({ nc: agentNc, agent: otherNode, site: 'solo', service: 'payments', workloadKey: generatePrivateKey() }),
      'MERIDIAN_ERR_SITE_SCOPE',
      'agent spiffe://acme.internal/site/solo/agent/node-2 runs no instance of payments',
    );
  });

  it("refuses an agent of another site, a proof by another key, a stale request and a non-workload identity", async () => {
    const csr = createCsr({ privateKey: generatePrivateKey(), commonName: 'payments', uris: [formatSpiffeId('acme.internal', 'solo', 'svc', 'payments')] });
    const at = new Date().toISOString();
    const foreignAgent = fed.identity('other', 'node-9');
    assert.deepEqual(await rawRequest({ csr, at, agentChain: chainToPem(foreignAgent.chain), proof: signProof(foreignAgent.privateKey, at, csr) }), {
      error: { code: 'MERIDIAN_ERR_SITE_SCOPE', message: 'agentChain: spiffe://acme.internal/site/other/agent/node-9 is not an agent or gateway of site solo' },
    });
    assert.deepEqual(await rawRequest({ csr, at, agentChain: chainToPem(agent.chain), proof: signProof(generatePrivateKey(), at, csr) }), {
      error: { code: 'MERIDIAN_ERR_PEER_IDENTITY', message: 'proof: does not verify with the key of spiffe://acme.internal/site/solo/agent/node-1' },
    });
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    const stale = await rawRequest({ csr, at: old, agentChain: chainToPem(agent.chain), proof: signProof(agent.privateKey, old, csr) });
    assert.match(stale.error?.message ?? '', /^at: request time .* is outside the 120 s window$/);
    const gatewayCsr = createCsr({ privateKey: generatePrivateKey(), commonName: 'gw', uris: [formatSpiffeId('acme.internal', 'solo', 'gateway', 'gw-1')] });
    assert.deepEqual(await rawRequest({ csr: gatewayCsr, at, agentChain: chainToPem(agent.chain), proof: signProof(agent.privateKey, at, gatewayCsr) }), {
      error: {
        code: 'MERIDIAN_ERR_SITE_SCOPE',
        message: 'csr.subjectAltName: spiffe://acme.internal/site/solo/agent/node-1 may renew only its own identity; it cannot get spiffe://acme.internal/site/solo/gateway/gw-1',
      },
    });
    const malformed = await rawRequest({ hello: 'world' });
    assert.equal(malformed.error?.code, 'MERIDIAN_ERR_CONFIG_INVALID');
    assert.match(malformed.error?.message ?? '', /^signing request: invalid configuration: \/csr: Expected required property; \/agentChain: Expected required property/);
    assert.deepEqual(issued, ['spiffe://acme.internal/site/solo/svc/payments'], 'nothing else was issued');
  });
});
