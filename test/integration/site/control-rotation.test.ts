/**
 * A root rotation as the site's control service lives it, on a real nats-server started with
 * pid_file and managed through the control service's `natsServer` option: `ca rotate start` and
 * `ca site --renew` reach the trust bucket and the nats-server (new certificate, new CA file,
 * reloaded by SIGHUP) within seconds; `ca rotate finish` leaves only the new root, the server
 * then refuses the old chain, and connections opened before are kept.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { PkiDirectory, finishRootRotation, renewSiteCa, startRootRotation, type MtlsIdentity } from '../../../shared/identity/index.js';
import { TRUST_DOCUMENT_KEY, trustBucketName, verifyTrustDocument, type TrustDocument } from '../../../shared/identity/trust-document.js';
import { bootstrapSiteCatalog, prepareSiteNats, startControlService, type ControlService, type SiteNatsSetup } from '../../../services/site/index.js';
import { eventually, useNatsServer, useTempDir } from '../../support/harness.js';
import type { NatsServerHandle } from '../../support/servers/index.js';
import { captureLogger } from '../../support/secure-site.js';
import { dialControl, type ControlClient } from '../../support/control-client.js';

const SITE = 'rot';

describe('control service through a root rotation', () => {
  let pki: PkiDirectory;
  let setup: SiteNatsSetup;
  let nats: NatsServerHandle;
  let control: ControlService;
  let kv: KV;
  let caFile: string;
  /** An identity issued by the site CA under the old root, kept for after the rotation. */
  let oldChain: MtlsIdentity;
  const logs = captureLogger();
  const opened: NatsConnection[] = [];

  before(async () => {
    const dir = useTempDir('meridian-control-rotation-');
    pki = new PkiDirectory(join(dir, 'pki'));
    pki.initRoot({ trustDomain: 'acme.internal' });
    pki.createSite(SITE);
    setup = prepareSiteNats(pki, SITE);
    caFile = join(dir, 'nats-ca.pem');
    copyFileSync(pki.bundlePath, caFile);
    const pidFile = join(dir, 'nats-server.pid');
    nats = await useNatsServer({ tls: { ...setup.tls, caFile, timeoutSeconds: 5 }, extraConfig: `pid_file: ${JSON.stringify(pidFile)}\n${setup.authorization}` });
    await bootstrapSiteCatalog({ pki, site: SITE, setup, url: nats.url });
    control = await startControlService({
      pki,
      site: SITE,
      natsUrl: nats.url,
      log: logs.log,
      natsServer: { certFile: setup.tls.certFile, keyFile: setup.tls.keyFile, pidFile, caFile },
    });
    const reader = await dial(identity());
    kv = await new Kvm(jetstream(reader.nc)).open(trustBucketName(SITE));
  });
  after(async () => {
    await control.stop();
    await Promise.all(opened.map((nc) => nc.close()));
  });

  const identity = (): MtlsIdentity => pki.issueMtlsIdentity(SITE, 'svc', 'control');

  /** A control-user connection, closed after the file. */
  async function dial(who: MtlsIdentity): Promise<ControlClient> {
    const client = await dialControl({ url: nats.url, site: SITE, password: setup.controlPassword, identity: who, name: 'rotation-test' });
    opened.push(client.nc);
    return client;
  }

  async function published(): Promise<{ text: string; version: number }> {
    const entry = await kv.get(TRUST_DOCUMENT_KEY);
    assert.ok(entry !== null && entry.operation === 'PUT', 'no trust document');
    return { text: entry.string(), version: (JSON.parse(entry.string()) as TrustDocument).version };
  }

  it('start + renew: the next document carries both roots; nats-server serves a certificate of the new site CA and trusts the new root', async () => {
    const first = await eventually(published, { timeoutMs: 5000 });
    const oldBundle = pki.loadBundle();
    oldChain = identity();
    const early = await dial(oldChain);

    startRootRotation(pki);
    const rotated = await eventually(async () => {
      const current = await published();
      assert.equal(current.version, first.version + 1);
      return current;
    }, { timeoutMs: 5000 });
    assert.equal(verifyTrustDocument(rotated.text, { site: SITE, bundle: oldBundle, lastVersion: first.version }).bundle.roots.length, 2);

    const renewed = renewSiteCa(pki, SITE);
    const probe = await eventually(async () => {
      const attempt = await dial(identity());
      const [served] = readFileSync(setup.tls.certFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/) ?? [];
      assert.ok(served !== undefined);
      const leaf = new X509Certificate(served);
      assert.ok(leaf.checkIssued(renewed.certificate), 'the certificate file is issued by the renewed site CA');
      assert.equal(attempt.served, leaf.fingerprint256, 'nats-server serves it');
      return attempt;
    }, { timeoutMs: 8000 });
    assert.equal(readFileSync(caFile, 'utf8'), pki.loadBundle().toPem());
    await probe.nc.flush();
    assert.equal((await published()).version, rotated.version, 'a new site CA alone publishes nothing');
    await early.nc.flush();
    assert.equal(early.nc.isClosed(), false);
  });

  it('finish: the new root only is published and loaded by nats-server; the old chain is refused, open connections kept', async () => {
    const before = await published();
    // The old chain's leaf, trusting both roots: accepted until the server drops the old root.
    const oldLeaf: MtlsIdentity = { ...oldChain, bundle: pki.loadBundle() };
    const openBefore = await dial(oldLeaf);
    finishRootRotation(pki, { leafTtlMs: 0 });
    const finished = await eventually(async () => {
      const current = await published();
      assert.equal(current.version, before.version + 1);
      return current;
    }, { timeoutMs: 5000 });
    const applied = verifyTrustDocument(finished.text, { site: SITE, bundle: oldLeaf.bundle, lastVersion: before.version });
    assert.equal(applied.bundle.roots.length, 1);
    await eventually(() => assert.equal(readFileSync(caFile, 'utf8'), pki.loadBundle().toPem()), { timeoutMs: 5000 });
    await eventually(() => assert.rejects(dial(oldLeaf)), { timeoutMs: 8000 });
    await dial(identity());
    await openBefore.nc.flush();
    assert.equal(openBefore.nc.isClosed(), false);
  });
});
