import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import tls, { type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, OutboundProxy, RequestRecord } from '../../../agent/proxy/index.js';
import { mtlsClientOptions, type MtlsIdentity } from '../../../shared/identity/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { h1, h2 } from '../../support/clients.js';
import { startCaller, startNode, startTcpEcho, TestCatalog } from '../../support/mesh/index.js';
import { mtlsConnect, mtlsH2, spiffe, TestTrustDomain } from '../../support/pki/index.js';
import { revocationYaml, TestPolicy } from '../../support/policy.js';

const ALLOW_ALL = 'kind: PolicyDefaults\nmetadata: {name: defaults}\nspec: {defaultAction: allow}\n';

/** Resolves true once `socket` closed, false when it is still open after `ms`. */
async function closedWithin(socket: TLSSocket, ms: number): Promise<boolean> {
  if (socket.destroyed) return true;
  const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref());
  return Promise.race([once(socket, 'close').then(() => true as const), timer]);
}

/** A fresh HTTP/1.1 request on a new mTLS connection: its status, or 'refused' when the connection died without an answer. */
async function tryRequest(port: number, identity: MtlsIdentity, session?: Buffer): Promise<{ outcome: number | 'refused'; reused: boolean }> {
  const socket = tls.connect({ host: '127.0.0.1', port, ...mtlsClientOptions(identity), servername: meshServerName('ledger'), ALPNProtocols: ['http/1.1'], ...(session === undefined ? {} : { session }) });
  socket.on('error', () => undefined);
  try {
    await once(socket, 'secureConnect');
  } catch {
    return { outcome: 'refused', reused: false };
  }
  const reused = socket.isSessionReused();
  socket.write('GET / HTTP/1.1\r\nHost: ledger.mesh\r\nConnection: close\r\n\r\n');
  let raw = '';
  socket.on('data', (chunk: Buffer) => (raw += chunk.toString()));
  await once(socket, 'close');
  return { outcome: raw === '' ? 'refused' : Number(raw.slice(9, 12)), reused };
}

/** The TLS session a server hands a client (a TLS 1.3 ticket), kept for a later resumption attempt. */
async function ticketOf(port: number, identity: MtlsIdentity): Promise<Buffer> {
  const socket = tls.connect({ host: '127.0.0.1', port, ...mtlsClientOptions(identity), servername: meshServerName('ledger'), ALPNProtocols: ['http/1.1'] });
  socket.on('error', () => undefined);
  const sessions: Buffer[] = [];
  socket.on('session', (session: Buffer) => sessions.push(session));
  await once(socket, 'secureConnect');
  socket.write('GET / HTTP/1.1\r\nHost: ledger.mesh\r\nConnection: close\r\n\r\n');
  socket.resume();
  await once(socket, 'close');
  const [session] = sessions;
  assert.ok(session !== undefined, 'the server sent a session ticket');
  return session;
}

describe('revocation at the inbound: refused on every handshake, open connections closed', () => {
  const pki = new TestTrustDomain();
  const policy = new TestPolicy();
  const records: RequestRecord[] = [];
  let app: TestApp;
  let h2app: TestApp;
  let echo: { port: number; close: () => Promise<void> };
  let node: InboundProxy;

  before(async () => {
    policy.apply(ALLOW_ALL);
    app = await startHttpApp('ledger', 'http');
    h2app = await startHttpApp('books', 'http2');
    echo = await startTcpEcho();
    node = await startNode(
      pki,
      'eu',
      {
        ledger: { address: '127.0.0.1', port: app.port, protocol: 'http' },
        books: { address: '127.0.0.1', port: h2app.port, protocol: 'http2' },
        cache: { address: '127.0.0.1', port: echo.port, protocol: 'tcp' },
      },
      { policy: policy.live, onRequest: (record) => records.push(record) },
    );
  });
  after(async () => {
    await node.close(1000);
    await app.kill();
    await h2app.kill();
    await echo.close();
  });

  it('closes the HTTP/1.1, HTTP/2 and TCP connections of a caller as it is revoked, and only its', async () => {
    const rogue = pki.identity('eu', 'svc', 'rogue');
    const honest = pki.identity('eu', 'svc', 'honest');
    const h1socket = await mtlsConnect(node.port, rogue, { servername: meshServerName('ledger'), alpn: 'http/1.1' });
    h1socket.on('error', () => undefined);
    const agent = new http.Agent({ keepAlive: true });
    // One request proves the keep-alive connection open and served.
    h1socket.write('GET / HTTP/1.1\r\nHost: ledger.mesh\r\n\r\n');
    await once(h1socket, 'data');
    const rogueH2 = await mtlsH2(node.port, rogue, 'books');
    assert.equal((await h2(rogueH2.session, { ':authority': 'books.mesh' })).status, 200);
    const tcp = await mtlsConnect(node.port, rogue, { servername: meshServerName('cache'), alpn: 'meridian-tcp' });
    tcp.on('error', () => undefined);
    await once(tcp, 'data');
    const honestH2 = await mtlsH2(node.port, honest, 'books');
    assert.equal((await h2(honestH2.session, { ':authority': 'books.mesh' })).status, 200);

    policy.apply(ALLOW_ALL + '---\n' + revocationYaml([{ identity: spiffe('eu', 'rogue') }]));
    assert.equal(await closedWithin(h1socket, 2000), true, 'HTTP/1.1 connection closed');
    assert.equal(await closedWithin(rogueH2.socket, 2000), true, 'HTTP/2 session closed');
    assert.equal(await closedWithin(tcp, 2000), true, 'TCP pipe closed');
    assert.equal((await h2(honestH2.session, { ':authority': 'books.mesh' })).status, 200, 'another caller keeps its session');
    honestH2.session.close();
    agent.destroy();

    // A new handshake of the revoked identity is refused; the refusal is reported with its rule.
    assert.deepEqual(await tryRequest(node.port, rogue), { outcome: 'refused', reused: false });
    const last = records.at(-1);
    assert.deepEqual([last?.service, last?.peerService, last?.status, last?.policyRule], ['ledger', 'rogue', 403, 'revocation']);
  });

  it('revokes one certificate by serial: a renewed certificate of the same identity is served', async () => {
    const old = pki.identity('eu', 'svc', 'batch');
    const renewed = pki.identity('eu', 'svc', 'batch');
    assert.equal((await tryRequest(node.port, old)).outcome, 200);
    policy.apply(ALLOW_ALL + '---\n' + revocationYaml([{ identity: spiffe('eu', 'rogue') }, { serial: old.serial }]));
    assert.equal((await tryRequest(node.port, old)).outcome, 'refused');
    assert.equal((await tryRequest(node.port, renewed)).outcome, 200);
  });

  it('does not let TLS session resumption bring a revoked caller back', async () => {
    const resumer = pki.identity('eu', 'svc', 'resumer');
    const ticket = await ticketOf(node.port, resumer);
    // The server resumes nothing: the ticket buys a full handshake, and the caller is served.
    assert.deepEqual(await tryRequest(node.port, resumer, ticket), { outcome: 200, reused: false });
    policy.apply(ALLOW_ALL + '---\n' + revocationYaml([{ identity: spiffe('eu', 'rogue') }, { identity: spiffe('eu', 'resumer') }]));
    // The full handshake meets the revocation.
    assert.equal((await tryRequest(node.port, resumer, ticket)).outcome, 'refused');
  });
});

describe('revocation at the source: pooled sessions to a revoked destination close', () => {
  const pki = new TestTrustDomain();
  const policy = new TestPolicy();
  let app: TestApp;
  let node: InboundProxy;
  let caller: OutboundProxy;

  before(async () => {
    policy.apply(ALLOW_ALL);
    app = await startHttpApp('ledger', 'http2');
    node = await startNode(pki, 'eu', { ledger: { address: '127.0.0.1', port: app.port, protocol: 'http2' } });
    const catalog = new TestCatalog();
    catalog.add({ service: 'ledger', instanceId: 'ledger-1', site: 'eu', meshPort: node.port, protocol: 'http2' });
    caller = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { policy: policy.live });
  });
  after(async () => {
    app.release();
    await caller.close(1000);
    await node.close(1000);
    await app.kill();
  });

  it('cuts the pooled session at once and opens none to the revoked instance', async () => {
    const port = caller.httpPort ?? 0;
    assert.equal((await h1(port, { host: 'ledger.mesh' })).status, 200);
    // A request held by the app rides the pooled session: the revocation must cut it, not wait for it.
    const held = h1(port, { host: 'ledger.mesh', path: '/hold' });
    while (app.held === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const startedAt = Date.now();
    policy.apply(ALLOW_ALL + '---\n' + revocationYaml([{ identity: spiffe('eu', 'ledger') }]));
    const cut = await held.then((reply) => reply.status, () => 'reset');
    assert.notEqual(cut, 200);
    assert.ok(Date.now() - startedAt < 2000);
    const next = await h1(port, { host: 'ledger.mesh' });
    assert.equal(next.status, 502);
    assert.match(next.body.toString(), /presented a revoked certificate/);
  });
});
