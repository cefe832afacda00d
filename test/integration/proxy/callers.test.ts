import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, RequestRecord } from '../../../agent/proxy/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { bodyJson, h2 } from '../../support/clients.js';
import { recordingLogger, startNode, startTcpEcho, type RecordingLogger } from '../../support/mesh/index.js';
import { mtlsConnect, mtlsH2, spiffe, TestTrustDomain } from '../../support/pki/index.js';

/** Everything a connection received until it closed (cut after 3 s, so a connection left open fails the test rather than hanging it). */
async function drained(socket: TLSSocket): Promise<Buffer> {
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const timer = setTimeout(() => socket.destroy(), 3000);
  await once(socket, 'close');
  clearTimeout(timer);
  return Buffer.concat(chunks);
}

/** One HTTP/1.1 request on a fresh mTLS connection to `service`; the raw response. */
async function rawH1(port: number, identity: MtlsIdentity, service: string): Promise<string> {
  const socket = await mtlsConnect(port, identity, { servername: meshServerName(service), alpn: 'http/1.1' });
  // No half-close: Node's HTTP/1.1 server aborts a request whose connection ended before the answer.
  socket.write(`GET / HTTP/1.1\r\nHost: ${service}.mesh\r\nConnection: close\r\n\r\n`);
  return (await drained(socket)).toString();
}

function jsonBody(raw: string): unknown {
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
}

describe('inbound listener: callers of another site, and identities that are not workloads', () => {
  const pki = new TestTrustDomain();
  const records: RequestRecord[] = [];
  let logger: RecordingLogger;
  let privateApp: TestApp;
  let publicApp: TestApp;
  let echo: { port: number; close: () => Promise<void> };
  let node: InboundProxy;
  const forbidden = (caller: string, service: string, why: string): unknown => ({ code: 'MERIDIAN_ERR_FORBIDDEN', message: `${caller} may not call service "${service}": ${why}` });
  const notExported = 'it is not exported to other sites (caller of site us, service of site eu)';

  before(async () => {
    logger = recordingLogger();
    privateApp = await startHttpApp('private', 'http2');
    publicApp = await startHttpApp('public', 'http');
    echo = await startTcpEcho();
    node = await startNode(
      pki,
      'eu',
      {
        ledger: { address: '127.0.0.1', port: privateApp.port, protocol: 'http2' },
        payments: { address: '127.0.0.1', port: publicApp.port, protocol: 'http', exported: true },
        cache: { address: '127.0.0.1', port: echo.port, protocol: 'tcp' },
      },
      { logger, onRequest: (record) => records.push(record) },
    );
  });
  after(async () => {
    await node.close(1000);
    await privateApp.kill();
    await publicApp.kill();
    await echo.close();
  });

  it('refuses with 403 a workload of another site calling a service that is not exported (HTTP/2 and HTTP/1.1)', async () => {
    const rogue = pki.identity('us', 'svc', 'rogue-svc');
    const { session } = await mtlsH2(node.port, rogue, 'ledger');
    try {
      const reply = await h2(session, { ':authority': 'ledger.mesh' });
      assert.equal(reply.status, 403);
      assert.deepEqual(bodyJson(reply), forbidden(spiffe('us', 'rogue-svc'), 'ledger', notExported));
    } finally {
      session.close();
    }
    const raw = await rawH1(node.port, rogue, 'ledger');
    assert.match(raw, /^HTTP\/1\.1 403 /);
    assert.deepEqual(jsonBody(raw), forbidden(spiffe('us', 'rogue-svc'), 'ledger', notExported));
    assert.equal(privateApp.hits, 0, 'nothing reached the app');
    const refused = records.filter((r) => r.service === 'ledger').map((r) => [r.status, r.peerService, r.peerSite]);
    assert.deepEqual(refused, [[403, 'rogue-svc', 'us'], [403, 'rogue-svc', 'us']]);
  });

  it('serves the same caller on an exported service, and a caller of its own site on one that is not', async () => {
    const { session } = await mtlsH2(node.port, pki.identity('us', 'svc', 'web'), 'payments');
    try {
      assert.equal((await h2(session, { ':authority': 'payments.mesh' })).status, 200);
    } finally {
      session.close();
    }
    const local = await mtlsH2(node.port, pki.identity('eu', 'svc', 'web'), 'ledger');
    try {
      assert.equal((await h2(local.session, { ':authority': 'ledger.mesh' })).status, 200);
    } finally {
      local.session.close();
    }
  });

  it('refuses agent and gateway identities as callers, of any site', async () => {
    const cases: [MtlsIdentity, string, string][] = [
      [pki.identity('eu', 'agent', 'node-1'), spiffe('eu', 'node-1', 'agent'), 'agent'],
      [pki.identity('us', 'gateway', 'gw-1'), spiffe('us', 'gw-1', 'gateway'), 'gateway'],
    ];
    const before = publicApp.hits;
    for (const [identity, uri, kind] of cases) {
      const raw = await rawH1(node.port, identity, 'payments');
      assert.match(raw, /^HTTP\/1\.1 403 /);
      assert.deepEqual(jsonBody(raw), forbidden(uri, 'payments', `${kind} identities are not workloads: only …/svc/<name> identities may call services`));
    }
    assert.equal(publicApp.hits, before);
    assert.deepEqual(
      records.filter((r) => r.service === 'payments' && r.status === 403).map((r) => [r.peerService, r.peerSite]),
      [['node-1', 'eu'], ['gw-1', 'us']],
    );
  });

  it('closes a refused TCP connection with the refusal byte, logs why and reports it', async () => {
    const refusals: [MtlsIdentity, string][] = [
      [pki.identity('us', 'svc', 'rogue-svc'), spiffe('us', 'rogue-svc')],
      [pki.identity('eu', 'agent', 'node-1'), spiffe('eu', 'node-1', 'agent')],
    ];
    for (const [identity, uri] of refusals) {
      const socket = await mtlsConnect(node.port, identity, { servername: meshServerName('cache'), alpn: 'meridian-tcp' });
      socket.write('ping');
      // 0x02: refused for who the caller is (final), never a byte of the app's.
      assert.deepEqual(await drained(socket), Buffer.from([2]));
      const line = logger.lines.at(-1);
      assert.equal(line?.message, 'inbound: caller refused');
      assert.equal(line?.fields.caller, uri);
      assert.equal(line?.fields.service, 'cache');
      assert.equal(line?.fields.remote, '127.0.0.1');
      assert.match(String(line?.fields.reason), /may not call service "cache"/);
    }
    const tcp = records.filter((r) => r.service === 'cache').map((r) => [r.protocol, r.status, r.peerService, r.peerSite]);
    assert.deepEqual(tcp, [['tcp', 403, 'rogue-svc', 'us'], ['tcp', 403, 'node-1', 'eu']]);
  });
});

describe('inbound listener: a refused handshake is logged with its peer and reason', () => {
  it('logs the peer address and the verification error of a caller from a foreign CA', async () => {
    const pki = new TestTrustDomain();
    const logger = recordingLogger();
    const app = await startHttpApp('payments', 'http');
    const node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } }, { logger });
    try {
      // Trusts our root, so it gets as far as presenting its foreign certificate.
      const attacker = pki.foreignIdentity('eu', 'svc', 'web');
      await mtlsConnect(node.port, attacker, { servername: meshServerName('payments'), alpn: 'http/1.1' })
        .then(async (socket) => drained(socket))
        .catch(() => undefined);
      const deadline = Date.now() + 2000;
      while (!logger.lines.some((l) => l.message === 'inbound: handshake failed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const line = logger.lines.find((l) => l.message === 'inbound: handshake failed');
      assert.ok(line !== undefined, JSON.stringify(logger.lines));
      assert.equal(line.fields.remote, '127.0.0.1');
      // Its chain ends at a root we don't have: OpenSSL's verification error, not "socket hang up".
      assert.equal(line.fields.authorizationError, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
      assert.equal(app.hits, 0);
    } finally {
      await node.close(500);
      await app.kill();
    }
  });
});
