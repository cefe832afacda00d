/**
 * The control service keeps the site's nats-server certificate renewed: it re-issues `svc/nats`,
 * rewrites the server's CA file, and sends SIGHUP to the pid in nats-server's pid_file. Checked
 * against the real nats-server: a reload serves the new certificate and trusts the new CA file,
 * and a client connected before it keeps its connection.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { PkiDirectory, renewSiteCa, startRootRotation, type MtlsIdentity } from '../../../shared/identity/index.js';
import { keepNatsServerCertificate } from '../../../services/site/nats-server-cert.js';
import { prepareSiteNats } from '../../../services/site/index.js';
import { eventually, useNatsServer, useTempDir } from '../../support/harness.js';
import { captureLogger } from '../../support/secure-site.js';
import { dialControl, type ControlClient } from '../../support/control-client.js';

const SITE = 'eu';

describe('nats-server certificate kept by the control service', () => {
  it('re-issues, rewrites the CA file, reloads nats-server by SIGHUP: new certificate served, new root trusted, connected clients kept', async () => {
    const dir = useTempDir('meridian-nats-reload-');
    const pki = new PkiDirectory(join(dir, 'pki'));
    pki.initRoot({ trustDomain: 'acme.internal' });
    pki.createSite(SITE);
    const setup = prepareSiteNats(pki, SITE);
    const caFile = join(dir, 'nats-ca.pem');
    copyFileSync(pki.bundlePath, caFile);
    const pidFile = join(dir, 'nats-server.pid');
    const nats = await useNatsServer({
      jetstream: false,
      tls: { ...setup.tls, caFile, timeoutSeconds: 5 },
      extraConfig: `pid_file: ${JSON.stringify(pidFile)}\n${setup.authorization}`,
    });
    assert.equal(Number(readFileSync(pidFile, 'utf8').trim()), nats.pid);

    const before = await client(pki, nats.url, setup.controlPassword);
    const disconnects = countDisconnects(before.nc);
    const { log, lines } = captureLogger();
    const keeper = keepNatsServerCertificate({ site: SITE, certFile: setup.tls.certFile, keyFile: setup.tls.keyFile, pidFile, caFile, authority: () => pki.loadSite(SITE), log });
    try {
      // Issued by the current site CA with a current CA file: nothing to do until half-life.
      assert.equal(lines.length, 0, JSON.stringify(lines));

      // A rotation: the next root joins the bundle and the site CA is re-issued under it.
      startRootRotation(pki);
      renewSiteCa(pki, SITE);
      const newChain = pki.issueMtlsIdentity(SITE, 'svc', 'control');
      await assert.rejects(client(pki, nats.url, setup.controlPassword, newChain), 'the server does not trust the new root before its reload');

      keeper.renew('test: site CA renewed');
      assert.equal(readFileSync(caFile, 'utf8'), pki.loadBundle().toPem());
      const renewed = keeper.certificate;
      assert.ok(renewed !== undefined);
      const after = await eventually(async () => {
        const probe = await client(pki, nats.url, setup.controlPassword, newChain);
        if (probe.served !== renewed.fingerprint256) {
          await probe.nc.close();
          throw new Error(`server still presents ${probe.served}`);
        }
        return probe;
      }, { timeoutMs: 5000 });
      assert.ok(lines.some((l) => l.message === 'nats-server certificate renewed and reloaded'), JSON.stringify(lines));

      // The client connected before the reload kept its connection and still talks.
      const sub = after.nc.subscribe('_INBOX.reload-check', { max: 1 });
      await after.nc.flush();
      before.nc.publish('_INBOX.reload-check', 'still here');
      for await (const message of sub) assert.equal(message.string(), 'still here');
      assert.equal(before.nc.isClosed(), false);
      assert.equal(disconnects(), 0);
      await after.nc.close();
    } finally {
      keeper.stop();
      await before.nc.close();
    }
  });

  it('a missing pid file is logged with what to do, and retried; the files are written anyway', () => {
    const dir = useTempDir('meridian-nats-nopid-');
    const pki = new PkiDirectory(join(dir, 'pki'));
    pki.initRoot({ trustDomain: 'acme.internal' });
    pki.createSite(SITE);
    const { log, lines } = captureLogger();
    const certFile = join(dir, 'nats.crt');
    const keeper = keepNatsServerCertificate({ site: SITE, certFile, keyFile: join(dir, 'nats.key'), pidFile: join(dir, 'absent.pid'), authority: () => pki.loadSite(SITE), log });
    keeper.stop();
    assert.match(readFileSync(certFile, 'utf8'), /BEGIN CERTIFICATE/);
    const warning = lines.find((l) => l.message === 'nats-server certificate renewal failed; retrying');
    assert.ok(warning, JSON.stringify(lines));
    assert.match(String(warning.fields.error), /absent\.pid: cannot read the nats-server pid file \(natsServer\.pidFile\); the new certificate is written and loads at its next start/);
  });
});

/** A control-user connection with `identity` (default: a freshly issued control identity). */
function client(pki: PkiDirectory, url: string, password: string, identity?: MtlsIdentity): Promise<ControlClient> {
  return dialControl({ url, site: SITE, password, identity: identity ?? pki.issueMtlsIdentity(SITE, 'svc', 'control'), name: 'reload-test' });
}

function countDisconnects(nc: NatsConnection): () => number {
  let count = 0;
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'disconnect' || status.type === 'reconnect') count += 1;
  })();
  return () => count;
}
