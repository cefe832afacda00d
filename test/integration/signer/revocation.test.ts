/**
 * The signer under a policy with revocations, on a real secured nats-server with certificates
 * made at test time: it issues nothing for an identity whose revocation is in force, nor to a
 * requester whose own certificate is revoked (workload CSRs, agent and gateway self-renewal),
 * names the identity and the policy version, and issues again once the revocation has expired.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { FederatedView, SiteCatalogWriter, ensureSiteBucket, parseServiceDefinition, signerSubject, toInstance } from '../../../shared/catalog/index.js';
import type { MeridianError } from '../../../shared/errors/index.js';
import { chainToPem, createCsr, formatSpiffeId, generatePrivateKey, signProof, type MtlsIdentity } from '../../../shared/identity/index.js';
import { startSigner } from '../../../services/signer/index.js';
import { fileScope } from '../../support/harness.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';
import { FAR_FUTURE, RevocationPolicy } from '../../support/revocation-policy.js';

const TD = 'acme.internal';
const id = (kind: 'agent' | 'gateway' | 'svc', name: string): string => formatSpiffeId(TD, 'solo', kind, name);
const revocations = new RevocationPolicy();
const issued: string[] = [];
const refusals: MeridianError[] = [];
let fed: SecureFederation;
let nc: NatsConnection;

before(async () => {
  fed = await startSecureFederation(['solo', 'other']);
  const control = await fed.connectControl('solo');
  const view = new FederatedView({ sites: ['solo'] });
  view.connect(control);
  fileScope.after(() => Promise.resolve(view.close()));
  const signer = startSigner({
    nc: control,
    authority: fed.pki.loadSite('solo'),
    catalog: view,
    roleTtlMs: 60_000,
    policy: revocations.policy,
    onIssued: (_caller, identity) => issued.push(identity.uri),
    onRefused: (error) => refusals.push(error),
  });
  fileScope.after(() => Promise.resolve(signer.stop()));
  await control.flush();
  nc = await fed.connectAgent('solo', 'node-1');
  const writer = new SiteCatalogWriter(await ensureSiteBucket(nc, 'solo'), 'solo');
  await writer.renewLease('node-1', 600_000);
  for (const service of ['payments', 'billing']) {
    await writer.put(toInstance(parseServiceDefinition({ service, ports: { http: 8080 } }, 'test'), fed.node('solo', 'node-1'), { leaseTtlMs: 600_000 }));
  }
  await view.ready(20_000);
  const deadline = Date.now() + 10_000;
  while (view.query({ service: 'billing' }).length === 0 || view.query({ service: 'payments' }).length === 0) {
    if (Date.now() > deadline) throw new Error('the services never reached the signer view');
    await view.waitForChange(view.revision, 200);
  }
});

/** A signed request of `caller` for `uri`, as agents and gateways send it. */
async function ask(caller: MtlsIdentity, uri: string): Promise<{ error?: { code: string; message: string }; chain?: string }> {
  const csr = createCsr({ privateKey: generatePrivateKey(), commonName: 'x', uris: [uri] });
  const at = new Date().toISOString();
  const body = { csr, at, agentChain: chainToPem(caller.chain), proof: signProof(caller.privateKey, at, csr) };
  return (await nc.request(signerSubject('solo'), JSON.stringify(body), { timeout: 5000 })).json();
}

function serial(identity: MtlsIdentity): string {
  return identity.chain[0]?.serialNumber ?? assert.fail('no leaf');
}

describe('the signer refuses revoked identities and requesters (MERIDIAN_ERR_REVOKED)', () => {
  it('a workload CSR for a revoked workload identity; the same agent still gets its other service', async () => {
    const agent = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-1');
    const v = revocations.revoke({ identity: id('svc', 'payments'), notAfter: FAR_FUTURE() });
    assert.deepEqual(await ask(agent, id('svc', 'payments')), {
      error: {
        code: 'MERIDIAN_ERR_REVOKED',
        message: `csr.subjectAltName: ${id('svc', 'payments')} is revoked by policy version ${v}; no certificate is issued for it while the revocation is in force`,
      },
    });
    assert.ok((await ask(agent, id('svc', 'billing'))).chain !== undefined);
    assert.deepEqual(issued.splice(0), [id('svc', 'billing')]);
    assert.equal(refusals.at(-1)?.statusCode, 403);
  });

  it("a workload CSR from an agent whose certificate is revoked; the node's other certificate is served", async () => {
    const stolen = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-1');
    const current = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-1');
    const v = revocations.revoke({ serial: serial(stolen), notAfter: FAR_FUTURE() });
    assert.deepEqual(await ask(stolen, id('svc', 'billing')), {
      error: {
        code: 'MERIDIAN_ERR_REVOKED',
        message: `agentChain: ${id('agent', 'node-1')} (certificate serial ${serial(stolen)}) is revoked by policy version ${v}; nothing is issued to it`,
      },
    });
    assert.ok((await ask(current, id('svc', 'billing'))).chain !== undefined);
    assert.deepEqual(issued.splice(0), [id('svc', 'billing')]);
  });

  it('agent and gateway self-renewal of a revoked identity; others renew', async () => {
    const agent = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-2');
    const gateway = fed.pki.issueMtlsIdentity('solo', 'gateway', 'gw-1');
    const v = revocations.revoke({ identity: id('agent', 'node-2'), notAfter: FAR_FUTURE() }, { identity: id('gateway', 'gw-1'), notAfter: FAR_FUTURE() });
    for (const [caller, uri] of [[agent, id('agent', 'node-2')], [gateway, id('gateway', 'gw-1')]] as const) {
      const answer = await ask(caller, uri);
      assert.equal(answer.error?.code, 'MERIDIAN_ERR_REVOKED', JSON.stringify(answer));
      assert.equal(answer.error?.message, `agentChain: ${uri} (certificate serial ${serial(caller)}) is revoked by policy version ${v}; nothing is issued to it`);
    }
    assert.ok((await ask(fed.pki.issueMtlsIdentity('solo', 'agent', 'node-3'), id('agent', 'node-3'))).chain !== undefined);
    assert.ok((await ask(fed.pki.issueMtlsIdentity('solo', 'gateway', 'gw-2'), id('gateway', 'gw-2'))).chain !== undefined);
    assert.deepEqual(issued.splice(0), [id('agent', 'node-3'), id('gateway', 'gw-2')], 'nothing issued to the revoked identities');
  });

  it('a revocation issues nothing while in force, and blocks nothing once its notAfter is past', async () => {
    // The entry ends before the caller's own certificate does: it revokes issuing, not that certificate.
    const agent = fed.pki.issueMtlsIdentity('solo', 'agent', 'node-4');
    const until = Date.now() + 2500;
    const v = revocations.revoke({ identity: id('agent', 'node-4'), notAfter: new Date(until).toISOString() });
    assert.deepEqual(await ask(agent, id('agent', 'node-4')), {
      error: {
        code: 'MERIDIAN_ERR_REVOKED',
        message: `csr.subjectAltName: ${id('agent', 'node-4')} is revoked by policy version ${v}; no certificate is issued for it while the revocation is in force`,
      },
    });
    await new Promise((resolve) => setTimeout(resolve, until - Date.now() + 100));
    assert.ok((await ask(agent, id('agent', 'node-4'))).chain !== undefined, 'issued once the revocation expired, with no new policy version');
    assert.deepEqual(issued.splice(0), [id('agent', 'node-4')]);
  });
});
