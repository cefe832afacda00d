import assert from 'node:assert/strict';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { startAgent, type RunningAgent } from '../../../agent/index.js';
import { startGatewayProcess, type RunningGateway } from '../../../gateway/runtime.js';
import { openStatusBucket, statusKey, type AgentStatus } from '../../../shared/status/index.js';
import {
  TRUST_DOCUMENT_KEY,
  createRootAuthority,
  encodeTrustDocument,
  generatePrivateKey,
  readPrivateKey,
  trustBucketName,
  type TrustBundle,
} from '../../../shared/identity/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { captureLogger, useSecureSite, type LogLine, type SecureSite } from '../../support/secure-site.js';

const TD = 'acme.internal';
let site: SecureSite;
let kv: KV;
let agent: RunningAgent;
let gateway: RunningGateway;
let gatewayBundleFile: string;
let lines: LogLine[];
let bundleFile: string;
const newRoot = createRootAuthority({ trustDomain: TD }).certificate;

before(async () => {
  site = await useSecureSite();
  site.pki.createSite('other');
  const admin = await site.admin();
  kv = await new Kvm(jetstream(admin)).create(trustBucketName('solo'), { history: 1 });
  bundleFile = join(site.dir, 'agent-bundle.pem');
  copyFileSync(site.pki.bundlePath, bundleFile);
  const config = site.agentConfig('node-1');
  const captured = captureLogger();
  lines = captured.lines;
  agent = await startAgent({ ...config, nats: { ...config.nats, bundleFile }, telemetry: { statusInterval: '500ms' } }, captured.log);
  fileScope.after(() => agent.stop());
  gatewayBundleFile = join(site.dir, 'gateway-bundle.pem');
  copyFileSync(site.pki.bundlePath, gatewayBundleFile);
  const gatewayConfig = site.gatewayConfig('gw-1');
  gateway = await startGatewayProcess({ ...gatewayConfig, nats: { ...gatewayConfig.nats, bundleFile: gatewayBundleFile } }, captureLogger().log);
  fileScope.after(() => gateway.stop(500));
});

/** The site CA of `signerSite` (cert, then root) and its key. */
function siteSigner(signerSite: string, key = readPrivateKey(site.pki.sitePaths(signerSite).key)): { privateKey: KeyObject; chain: X509Certificate[] } {
  return { privateKey: key, chain: [site.pki.loadSiteCertificate(signerSite), site.pki.loadRoot().certificate] };
}

function document(options: { version: number; bundle?: string; trustDomain?: string; signer?: ReturnType<typeof siteSigner> }): string {
  return encodeTrustDocument({
    trustDomain: options.trustDomain ?? TD,
    version: options.version,
    bundle: options.bundle ?? site.pki.loadRoot().certificate.toString() + newRoot.toString(),
    signer: options.signer ?? siteSigner('solo'),
  });
}

/** Publishes `value` and returns the agent's next verdict on it. */
async function publish(value: string | Uint8Array): Promise<LogLine> {
  const seen = lines.length;
  await kv.put(TRUST_DOCUMENT_KEY, value);
  return eventually(() => lines.slice(seen).find((l) => l.message === 'trust document refused' || l.message === 'trust bundle applied') ?? assert.fail('no verdict yet'), { timeoutMs: 10_000 });
}

async function refusedUnchanged(value: string | Uint8Array, reason: string): Promise<void> {
  const bundle: TrustBundle = agent.identity.current.bundle;
  const file = readFileSync(bundleFile, 'utf8');
  const version = agent.credentials.trust.version;
  const verdict = await publish(value);
  assert.equal(verdict.message, 'trust document refused');
  assert.equal(verdict.fields.code, 'MERIDIAN_ERR_TRUST_DOCUMENT');
  assert.equal(verdict.fields.error, `trust document: ${reason}`);
  assert.equal(agent.identity.current.bundle, bundle, 'the bundle in use did not change');
  assert.equal(readFileSync(bundleFile, 'utf8'), file, 'the bundle file did not change');
  assert.equal(agent.credentials.trust.version, version);
}

describe('an agent follows its site trust document', () => {
  it('applies a document signed by its site CA: the new roots are in use and in the bundle file (0600)', async () => {
    const verdict = await publish(document({ version: 3 }));
    assert.equal(verdict.message, 'trust bundle applied');
    assert.deepEqual(verdict.fields, { version: 3, roots: 2 });
    assert.equal(agent.identity.current.bundle.roots.length, 2);
    assert.ok(agent.identity.current.bundle.roots.some((r) => r.fingerprint256 === newRoot.fingerprint256));
    assert.equal(readFileSync(bundleFile, 'utf8'), agent.identity.current.bundle.toPem());
    assert.equal(statSync(bundleFile).mode & 0o777, 0o600);
    assert.equal(agent.credentials.trust.version, 3);
    // The gateway of the site follows the same document: its tunnel server and links use the new roots.
    await eventually(() => assert.equal(gateway.credentials.trust.version, 3), { timeoutMs: 10_000 });
    assert.equal(gateway.identity.current.bundle.roots.length, 2);
    assert.equal(readFileSync(gatewayBundleFile, 'utf8'), gateway.identity.current.bundle.toPem());
  });

  it("refuses a document signed by another site's CA, and reports the refusal in its status", async () => {
    await refusedUnchanged(document({ version: 4, signer: siteSigner('other') }), '/signer spiffe://acme.internal/site/other is not the CA of site solo');
    const kv = await openStatusBucket(await site.admin(), site.site, 5000);
    await eventually(async () => {
      const record = (await kv.get(statusKey('agent', 'node-1')))?.json<AgentStatus>();
      assert.deepEqual(record?.trust, { version: 3, refused: 'trust document: /signer spiffe://acme.internal/site/other is not the CA of site solo' });
    }, { timeoutMs: 5000 });
    assert.equal(gateway.identity.current.bundle.roots.length, 2, 'the gateway kept the applied bundle');
  });

  it('refuses a signature by a key that is not the signer certificate\'s', async () => {
    await refusedUnchanged(document({ version: 4, signer: siteSigner('solo', generatePrivateKey()) }), '/signature does not verify with the key of the site CA of solo');
  });

  it('refuses a version not above the applied one', async () => {
    await refusedUnchanged(document({ version: 2 }), '/version 2 is not above the applied version 3');
    await refusedUnchanged(document({ version: 3 }), '/version 3 is not above the applied version 3');
  });

  it('refuses another trust domain', async () => {
    await refusedUnchanged(document({ version: 4, trustDomain: 'evil.internal' }), '/trustDomain evil.internal is not acme.internal');
  });

  it('refuses garbage, a non-object, a bad version and a huge value unread', async () => {
    await refusedUnchanged('{"trustDomain": "acme.internal", ', 'is not JSON');
    await refusedUnchanged('[1, 2]', 'must be a JSON object');
    await refusedUnchanged(JSON.stringify({ ...(JSON.parse(document({ version: 4 })) as object), version: 4.5 }), '/version must be an integer >= 1');
    await refusedUnchanged('x'.repeat(300 * 1024), `${300 * 1024} bytes is over the 262144-byte limit`);
  });

  it('refuses a bundle that would cut the agent off (its own root missing)', async () => {
    await refusedUnchanged(document({ version: 5, bundle: newRoot.toString() }), "/bundle does not verify this process's own certificate; applying it would cut it off");
  });
});
