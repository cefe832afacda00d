/**
 * The publish side of the trust document on a real secured nats-server: the control service
 * publishes `meridian-trust-<site>` when bundle.pem changes (a root rotation), every document
 * passes the receivers' rules (verifyTrustDocument, the function agents and gateways use), a
 * tampered value is refused by those rules and replaced, only the control user may write, two
 * publishers racing never go back in version, and a broken bundle.pem is never published.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { KvWatchInclude, Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { siteConnectOptions } from '../../../shared/catalog/index.js';
import { PkiDirectory, renewSiteCa, startRootRotation } from '../../../shared/identity/index.js';
import { TRUST_DOCUMENT_KEY, trustBucketName, verifyTrustDocument, type TrustDocument } from '../../../shared/identity/trust-document.js';
import { connectAsControl, startControlService, type ControlService } from '../../../services/site/index.js';
import { startTrustPublisher, type TrustPublisher } from '../../../services/site/trust-publisher.js';
import { eventually } from '../../support/harness.js';
import { captureLogger, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;
let admin: NatsConnection;
let kv: KV;

async function stored(): Promise<{ text: string; document: TrustDocument }> {
  const entry = await kv.get(TRUST_DOCUMENT_KEY);
  assert.ok(entry !== null && entry.operation === 'PUT', 'no trust document in the bucket');
  return { text: entry.string(), document: JSON.parse(entry.string()) as TrustDocument };
}

function controlConnection(pki: PkiDirectory): Promise<NatsConnection> {
  return connectAsControl({ pki, site: site.site, natsUrl: site.nats.url, identity: pki.issueMtlsIdentity(site.site, 'svc', 'control'), password: site.setup.controlPassword });
}

describe('trust document publisher', () => {
  let control: ControlService;
  const logs = captureLogger();

  before(async () => {
    site = await useSecureSite({ site: 'tp' });
    admin = await site.admin();
    kv = await new Kvm(jetstream(admin)).open(trustBucketName(site.site));
    control = await startControlService({ pki: site.pki, site: site.site, natsUrl: site.nats.url, log: logs.log });
  });
  after(async () => control.stop());

  it('publishes at start a document the receivers accept with the bundle they already hold', async () => {
    const { text, document } = await eventually(stored, { timeoutMs: 5000 });
    assert.equal(document.version, site.pki.bundleVersion() + 1);
    const applied = verifyTrustDocument(text, { site: site.site, bundle: site.pki.loadBundle(), lastVersion: 0 });
    assert.equal(applied.bundle.toPem(), readFileSync(site.pki.bundlePath, 'utf8'));
  });

  it('rotation start: the next version carries old + new root and verifies under the old bundle; the site CA renewal is picked up', async () => {
    const oldBundle = site.pki.loadBundle();
    const previous = (await stored()).document.version;
    const { next } = startRootRotation(site.pki);
    const { text, document } = await eventually(async () => {
      const current = await stored();
      assert.ok(current.document.version > previous, `still version ${current.document.version}`);
      return current;
    }, { timeoutMs: 5000 });
    assert.equal(document.version, previous + 1);
    const applied = verifyTrustDocument(text, { site: site.site, bundle: oldBundle, lastVersion: previous });
    assert.deepEqual(applied.bundle.roots.map((r) => r.fingerprint256), [...oldBundle.roots, next.certificate].map((r) => r.fingerprint256));
    assert.equal(control.identity.current.bundle.toPem(), applied.bundle.toPem(), "the control service's own identity trusts the new bundle");
    // A receiver never goes back: the same document again is refused.
    assert.throws(() => verifyTrustDocument(text, { site: site.site, bundle: applied.bundle, lastVersion: document.version }), {
      code: 'MERIDIAN_ERR_TRUST_DOCUMENT',
      message: `trust document: /version ${document.version} is not above the applied version ${document.version}`,
    });

    renewSiteCa(site.pki, site.site);
    // The server's ca_file is bundle.pem: reloaded, it trusts clients under the new root (the nats-server keeper does this in production).
    process.kill(site.nats.pid, 'SIGHUP');
    await eventually(() => assert.ok(logs.lines.some((l) => l.message === 'site CA and trust bundle reloaded' && l.fields.roots === 2)), { timeoutMs: 5000 });
    // Same bundle, new signer: nothing to publish again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await stored()).document.version, document.version);
  });

  it('a tampered value fails the receivers\' rules and is replaced with a higher version', async () => {
    const { document } = await stored();
    const forgedRoot = new PkiDirectory(`${site.dir}/forged`);
    forgedRoot.initRoot({ trustDomain: 'acme.internal' });
    const tampered = JSON.stringify({ ...document, version: document.version + 5, bundle: forgedRoot.loadBundle().toPem() });
    await kv.put(TRUST_DOCUMENT_KEY, tampered);
    assert.throws(() => verifyTrustDocument(tampered, { site: site.site, bundle: site.pki.loadBundle(), lastVersion: document.version }), {
      code: 'MERIDIAN_ERR_TRUST_DOCUMENT',
      message: `trust document: /signature does not verify with the key of the site CA of ${site.site}`,
    });
    const repaired = await eventually(async () => {
      const current = await stored();
      assert.notEqual(current.text, tampered);
      return current;
    }, { timeoutMs: 5000 });
    assert.equal(repaired.document.version, document.version + 6, 'above the tampered value, never below');
    verifyTrustDocument(repaired.text, { site: site.site, bundle: site.pki.loadBundle(), lastVersion: document.version });
  });

  it('the site agents\' user may read the trust bucket but not write it', async () => {
    const identity = site.pki.issueMtlsIdentity(site.site, 'agent', 'reader');
    const nc = await connect(siteConnectOptions({ servers: site.nats.url, site: site.site, password: site.setup.password, identity }));
    try {
      const agentKv = await new Kvm(jetstream(nc)).open(trustBucketName(site.site));
      const entry = await agentKv.get(TRUST_DOCUMENT_KEY);
      assert.equal(entry?.string(), (await stored()).text);
      await assert.rejects(agentKv.put(TRUST_DOCUMENT_KEY, '{}'), /Permissions Violation for Publish to "\$KV\.meridian-trust-tp\.bundle"|permissions violation/i);
    } finally {
      await nc.close();
    }
  });

  it('control services racing on one change never go back in version; every stored value passes the receivers\' rules', async () => {
    const seen: number[] = [];
    const watch = await kv.watch({ key: TRUST_DOCUMENT_KEY, include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of watch) if (entry.operation === 'PUT') seen.push((JSON.parse(entry.string()) as TrustDocument).version);
    })();
    // Two more publishers of the site beside the running control service, polling rarely: the test fires their polls together.
    const connections = [await controlConnection(site.pki), await controlConnection(site.pki)];
    const racers: TrustPublisher[] = connections.map((nc) => startTrustPublisher({ nc, pki: site.pki, site: site.site, log: captureLogger().log, pollMs: 60_000 }));
    try {
      await Promise.all(racers.map((racer) => racer.check()));
      const start = (await stored()).document.version;
      const bundle = site.pki.loadBundle();
      // The same roots in another order: a change of bundle.pem every publisher sees at once.
      site.pki.writeBundle([...bundle.roots].reverse());
      await Promise.all(racers.map((racer) => racer.check()));
      await Promise.all(racers.map((racer) => racer.check()));
      await eventually(async () => assert.equal((await stored()).document.bundle, site.pki.loadBundle().toPem()), { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const final = await stored();
      verifyTrustDocument(final.text, { site: site.site, bundle, lastVersion: start });
      assert.ok(final.document.version > start);
      assert.ok(seen.length >= 1, 'the change was published');
      for (let i = 1; i < seen.length; i += 1) assert.ok((seen[i] ?? 0) > (seen[i - 1] ?? 0), `versions went back: ${seen.join(', ')}`);
      for (const racer of racers) assert.equal(racer.version, final.document.version, 'every publisher ends on the stored version');
    } finally {
      racers.forEach((racer) => racer.stop());
      watch.stop();
      await Promise.all(connections.map((nc) => nc.close()));
    }
  });

  it('an unreadable bundle.pem, or one the site CA does not chain to, is logged and not published', async () => {
    const good = readFileSync(site.pki.bundlePath, 'utf8');
    const before = await stored();
    const refusals = (): number => logs.lines.filter((l) => l.message === 'trust files refused: keeping the current bundle and site CA').length;
    const already = refusals();
    writeFileSync(site.pki.bundlePath, 'not a certificate');
    await eventually(() => assert.equal(refusals(), already + 1), { timeoutMs: 5000 });
    const foreign = new PkiDirectory(`${site.dir}/foreign`);
    foreign.initRoot({ trustDomain: 'acme.internal' });
    writeFileSync(site.pki.bundlePath, foreign.loadBundle().toPem());
    await eventually(() => assert.equal(refusals(), already + 2), { timeoutMs: 5000 });
    assert.match(String(logs.lines.filter((l) => l.message.startsWith('trust files refused')).at(-1)?.fields.error), /site CA of tp does not chain to the trust bundle of acme.internal/);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal((await stored()).text, before.text, 'nothing was published');
    writeFileSync(site.pki.bundlePath, good);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal((await stored()).text, before.text, 'the good bundle again: still nothing new to publish');
  });
});
