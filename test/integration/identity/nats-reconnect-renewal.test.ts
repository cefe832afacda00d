import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { createRootAuthority, readCertificates, readPrivateKey, writeCertificates } from '../../../shared/identity/index.js';
import { connect as tlsConnect } from 'node:tls';
import { before, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { startAgent, type RunningAgent } from '../../../agent/index.js';
import { startGatewayProcess, type RunningGateway } from '../../../gateway/runtime.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { captureLogger, useSecureSite, type SecureSite } from '../../support/secure-site.js';

// Long enough to outlive a nats-server restart and the reconnect (a few seconds), short enough to expire during the test.
const TTL_MS = 12_000;
let site: SecureSite;
let control: ControlService;
let agent: RunningAgent;
let gateway: RunningGateway;
let firstControlSerial: string | undefined;
let agentFiles: { keyFile: string; certFile: string };

before(async () => {
  site = await useSecureSite();
  control = await startControlService({
    pki: site.pki,
    site: site.site,
    natsUrl: site.nats.url,
    roleTtlMs: TTL_MS,
    status: { api: { port: 0, tokens: [randomBytes(24).toString('hex')], tls: true } },
    log: captureLogger().log,
  });
  firstControlSerial = control.identity.current.chain[0]?.serialNumber;
  fileScope.after(() => control.stop());
  const config = site.agentConfig('node-1');
  site.pki.issueIdentity(site.site, 'agent', 'node-1', TTL_MS);
  agentFiles = { keyFile: config.nats.keyFile, certFile: config.nats.certFile };
  agent = await startAgent(config, captureLogger().log);
  fileScope.after(() => agent.stop());
  const gatewayConfig = site.gatewayConfig('gw-1');
  site.pki.issueIdentity(site.site, 'gateway', 'gw-1', TTL_MS);
  gateway = await startGatewayProcess(gatewayConfig, captureLogger().log);
  fileScope.after(() => gateway.stop(500));
});

function reconnects(nc: NatsConnection): { count: number } {
  const seen = { count: 0 };
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'reconnect') seen.count += 1;
  })();
  return seen;
}

it('after renewal and the expiry of the first certificates, a restarted nats-server sees agent, gateway and control reconnect with their renewed certificates', async () => {
  const roles = {
    agent: { nc: agent.nats() ?? assert.fail('agent not attached'), first: agent.identity.current.chain[0], live: () => agent.identity.current },
    gateway: { nc: gateway.nc, first: gateway.identity.current.chain[0], live: () => gateway.identity.current },
    control: { nc: control.nc, first: control.identity.current.chain[0], live: () => control.identity.current },
  };
  // Wait until every first certificate has expired: only a renewed one can pass the server's TLS check now.
  const lastExpiry = Math.max(...Object.values(roles).map((r) => Date.parse(r.first?.validTo ?? '')));
  await new Promise((resolve) => setTimeout(resolve, lastExpiry - Date.now() + 1000));
  for (const [role, r] of Object.entries(roles)) assert.notEqual(r.live().chain[0]?.serialNumber, r.first?.serialNumber, `${role} renewed`);
  const seen = Object.fromEntries(Object.entries(roles).map(([role, r]) => [role, reconnects(r.nc)]));
  const restartedAt = Date.now();
  await site.nats.restart();
  await eventually(() => {
    for (const [role, counter] of Object.entries(seen)) assert.ok((counter?.count ?? 0) >= 1, `${role} reconnected`);
  }, { timeoutMs: 15_000 });
  console.log(`nats-server restart to every role reconnected: ${Date.now() - restartedAt} ms`);
  for (const [role, r] of Object.entries(roles)) {
    assert.equal(r.nc.isClosed(), false, `${role}: connection open`);
    await r.nc.flush();
  }
  assert.equal(agent.nats(), roles.agent.nc, 'the agent kept its connection object');
  // The reconnected agent still works through NATS: its own renewal goes through the signer.
  const renewals = agent.credentials.renewal.renewals;
  await eventually(() => assert.ok(agent.credentials.renewal.renewals > renewals), { timeoutMs: 15_000 });
});

it("the control service's status API presents its renewed certificate to new TLS clients", async () => {
  const url = new URL(control.status.api?.url ?? assert.fail('no status API'));
  const before = control.identity.current.chain[0]?.serialNumber;
  const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca: control.identity.current.bundle.toPem(), checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  await once(socket, 'secureConnect');
  const served = socket.getPeerX509Certificate()?.serialNumber;
  socket.destroy();
  assert.notEqual(served, firstControlSerial, 'not the certificate it started with');
  // The current one (or the one just replaced, if a renewal fell between the handshake and this check).
  assert.ok(served === control.identity.current.chain[0]?.serialNumber || served === before, `served ${served}`);
});

it('a renewed agent identity is on disk (key and chain 0600, matching each other) for its next start', () => {
  const [leaf] = readCertificates(agentFiles.certFile);
  assert.ok(leaf !== undefined);
  assert.equal(leaf.checkPrivateKey(readPrivateKey(agentFiles.keyFile)), true);
  assert.ok(Date.parse(leaf.validTo) > Date.now(), 'a valid certificate, not the expired first one');
  for (const path of Object.values(agentFiles)) assert.equal(statSync(path).mode & 0o777, 0o600, path);
});

it("the control service takes the PKI dir's bundle with its next renewal (a root added during a rotation)", async () => {
  const extra = createRootAuthority({ trustDomain: 'acme.internal' }).certificate;
  writeCertificates(site.pki.bundlePath, [...site.pki.loadBundle().roots, extra]);
  await eventually(() => assert.ok(control.identity.current.bundle.roots.some((r) => r.fingerprint256 === extra.fingerprint256)), { timeoutMs: TTL_MS + 2000 });
  await control.nc.flush();
});
