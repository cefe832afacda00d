/**
 * SIGHUP (a habitual reload, a closed terminal) must not kill a gateway or a control service:
 * they say they got it and what they reloaded, keep serving, and still stop cleanly on SIGTERM.
 * Real `meridian` processes against a real nats-server.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { eventually } from '../../support/harness.js';
import { spawnMeridian, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;

before(async () => {
  site = await useSecureSite();
});

/** The serial number of the certificate the gateway presents on its tunnel port. */
async function presentedSerial(port: number): Promise<string> {
  const client = site.pki.issueIdentity(site.site, 'agent', 'probe');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      key: readFileSync(client.keyPath),
      cert: readFileSync(client.certPath),
      ca: readFileSync(site.pki.bundlePath),
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      // The gateway is named by its SPIFFE ID (a URI SAN), not a host name: only its certificate matters here.
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** Sends SIGHUP and checks the process is still there a moment later. */
async function hangUp(cli: ReturnType<typeof spawnMeridian>, expected: RegExp): Promise<void> {
  cli.child.kill('SIGHUP');
  await cli.waitFor(expected, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(cli.child.exitCode, null, cli.output());
  assert.equal(cli.child.signalCode, null, cli.output());
}

describe('SIGHUP', () => {
  it('makes `meridian gateway run` reload its certificate, keep serving, and still stop on SIGTERM', async () => {
    const config = site.gatewayConfig('gw-hup');
    const path = site.writeJson('gw-hup.json', config);
    const cli = spawnMeridian(['gateway', 'run', '--config', path]);
    const [, port] = await cli.waitFor(/tunnels on 127\.0\.0\.1:(\d+)/);
    const before = await presentedSerial(Number(port));
    assert.equal(before, new X509Certificate(readFileSync(config.certFile)).serialNumber);
    // A renewal writes a new certificate and key in place, then signals the gateway.
    const renewed = site.pki.issueIdentity(site.site, 'gateway', 'gw-hup');
    assert.notEqual(renewed.chain[0]?.serialNumber, before);
    await hangUp(cli, /SIGHUP received: tunnel certificate and key reloaded/);
    await eventually(async () => assert.equal(await presentedSerial(Number(port)), renewed.chain[0]?.serialNumber));
    cli.child.kill('SIGTERM');
    const exit = await cli.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, cli.output());
    assert.match(cli.output(), /gateway stopped: drained/);
  });

  it('is logged and ignored by `meridian site serve`, which still stops on SIGTERM', async () => {
    const cli = spawnMeridian(['site', 'serve', site.site, '--nats', site.nats.url, '--dir', site.pki.dir]);
    await cli.waitFor(/control service of site solo: signing workload certificates/);
    await hangUp(cli, /SIGHUP received: nothing to reload/);
    cli.child.kill('SIGTERM');
    const exit = await cli.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, cli.output());
    assert.match(cli.output(), /control service stopped/);
  });
});
