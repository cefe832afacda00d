import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { InboundConnectionInfo, InboundProxy, RequestRecord } from '../../../agent/proxy/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { bodyJson, h2 } from '../../support/clients.js';
import { startNode, startTcpEcho } from '../../support/mesh/index.js';
import { mtlsConnect, mtlsH2, refusedAfterHandshake, spiffe, TestTrustDomain } from '../../support/pki/index.js';
import { TestPolicy } from '../../support/policy.js';

describe('inbound listener: who may reach which service', () => {
  const pki = new TestTrustDomain();
  const connections: InboundConnectionInfo[] = [];
  // Every workload may call, but the intruder, denied everywhere.
  const policy = new TestPolicy();
  policy.apply(
    'kind: PolicyDefaults\nmetadata: {name: defaults}\nspec: {defaultAction: allow}\n---\n' +
      `kind: Authorization\nmetadata: {name: no-intruder}\nspec: {action: deny, service: '*', rules: [{from: ['${spiffe('eu', 'intruder')}']}]}\n`,
  );
  const records: RequestRecord[] = [];
  /** The records of refusals, as telemetry sees them: status, callee, caller. */
  const refusals = (): [number, string, string, string][] => records.filter((r) => r.status >= 400).map((r) => [r.status, r.service, r.peerService, r.peerSite]);
  let payments: TestApp;
  let ledger: TestApp;
  let echo: { port: number; close: () => Promise<void> };
  let node: InboundProxy;

  before(async () => {
    payments = await startHttpApp('payments', 'http');
    ledger = await startHttpApp('ledger', 'http2');
    echo = await startTcpEcho();
    node = await startNode(
      pki,
      'eu',
      {
        payments: { address: '127.0.0.1', port: payments.port, protocol: 'http' },
        ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http2', exported: true },
        cache: { address: '127.0.0.1', port: echo.port, protocol: 'tcp' },
      },
      { policy: policy.live, onConnection: (info) => connections.push(info), onRequest: (record) => records.push(record) },
    );
  });
  after(async () => {
    await node.close(1000);
    await payments.kill();
    await ledger.kill();
    await echo.close();
  });

  it('serves each service under its own identity, chosen by SNI, and reports the caller', async () => {
    const web = pki.identity('us', 'svc', 'web');
    const { session, socket } = await mtlsH2(node.port, web, 'ledger');
    try {
      assert.equal(socket.getPeerX509Certificate()?.subjectAltName, `URI:${spiffe('eu', 'ledger')}`);
      const seen = bodyJson<Seen>(await h2(session, { ':authority': 'ledger.mesh', 'x-forwarded-client-cert': 'forged' }));
      assert.equal(seen.headers['x-meridian-caller'], spiffe('us', 'web'));
      assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
      const info = connections.at(-1);
      assert.equal(info?.service, 'ledger');
      assert.equal(info?.caller.uri, spiffe('us', 'web'));
      assert.equal(info?.certificate.serialNumber, web.serial);
      assert.equal(info?.alpn, 'h2');
    } finally {
      session.close();
    }
  });

  it('refuses with 421 a request whose authority names another service than the SNI', async () => {
    const { session } = await mtlsH2(node.port, pki.identity('eu', 'svc', 'web'), 'payments');
    try {
      const reply = await h2(session, { ':authority': 'ledger.mesh' });
      assert.equal(reply.status, 421);
      assert.equal(bodyJson(reply).code, 'MERIDIAN_ERR_MISDIRECTED');
      assert.equal(ledger.hits, 1);
    } finally {
      session.close();
    }
    const socket = await mtlsConnect(node.port, pki.identity('eu', 'svc', 'web'), { servername: meshServerName('payments'), alpn: 'http/1.1' });
    socket.end('GET / HTTP/1.1\r\nHost: ledger.mesh\r\nConnection: close\r\n\r\n');
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    await once(socket, 'close');
    assert.match(raw, /^HTTP\/1\.1 421 /);
    // Refusals are reported with the verified caller, so telemetry counts them per caller.
    assert.deepEqual(refusals(), [[421, 'payments', 'web', 'eu'], [421, 'payments', 'web', 'eu']]);
  });

  it('fails the handshake for an unknown SNI, and for none', async () => {
    const web = pki.identity('eu', 'svc', 'web');
    await assert.rejects(mtlsConnect(node.port, web, { servername: meshServerName('unknown'), alpn: 'h2' }));
    await assert.rejects(mtlsConnect(node.port, web, { alpn: 'h2' }));
  });

  it('refuses a caller whose certificate chains to a foreign CA', async () => {
    // The client trusts our root so it gets as far as presenting its foreign certificate.
    const attacker = pki.foreignIdentity('eu', 'svc', 'web');
    const before = payments.hits;
    let refused = true;
    try {
      const socket = await mtlsConnect(node.port, attacker, { servername: meshServerName('payments'), alpn: 'http/1.1' });
      refused = await refusedAfterHandshake(socket);
    } catch {
      refused = true;
    }
    assert.equal(refused, true);
    assert.equal(payments.hits, before);
  });

  it('answers 403 when the policy denies, and closes a TCP stream it denies', async () => {
    const intruder = pki.identity('eu', 'svc', 'intruder');
    const { session } = await mtlsH2(node.port, intruder, 'ledger');
    try {
      const reply = await h2(session, { ':authority': 'ledger.mesh' });
      assert.equal(reply.status, 403);
      assert.deepEqual(bodyJson(reply), {
        code: 'MERIDIAN_ERR_POLICY_DENIED',
        message: `${spiffe('eu', 'intruder')} may not GET / on service "ledger": denied by Authorization no-intruder, rule 0 (rule no-intruder/rules/0, policy version 1)`,
      });
    } finally {
      session.close();
    }
    const tcp = await mtlsConnect(node.port, intruder, { servername: meshServerName('cache'), alpn: 'meridian-tcp' });
    tcp.on('error', () => undefined);
    let received = '';
    tcp.on('data', (chunk: Buffer) => (received += chunk.toString('hex')));
    await once(tcp, 'close');
    // The refusal byte (0x02: this caller may not call the service), never a byte of the app's.
    assert.equal(received, '02');
    // Both refusals reach telemetry with the rule: the request, then the TCP connection.
    assert.deepEqual(refusals().slice(-2), [[403, 'ledger', 'intruder', 'eu'], [403, 'cache', 'intruder', 'eu']]);
    assert.deepEqual(records.slice(-2).map((r) => [r.protocol, r.policyRule]), [['http', 'no-intruder/rules/0'], ['tcp', 'no-intruder/rules/0']]);
  });

  it('pipes ALPN meridian-tcp to the TCP app once the app accepted', async () => {
    const socket = await mtlsConnect(node.port, pki.identity('eu', 'svc', 'web'), { servername: meshServerName('cache'), alpn: 'meridian-tcp' });
    // The first byte (0x00) says the app took the connection; the app's bytes follow.
    const [accepted] = (await once(socket, 'data')) as [Buffer];
    assert.deepEqual(accepted, Buffer.from([0]));
    socket.write('ping');
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'ping');
    socket.destroy();
  });
});
