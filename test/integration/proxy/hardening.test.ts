import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { mtlsConnect, TestTrustDomain } from '../../support/pki/index.js';

const timeouts = { headersMs: 300 };

/** Writes `data` (maybe nothing), then reads until the server closes; returns what it said and how long it took. */
async function until(socket: net.Socket | TLSSocket, data: string): Promise<{ reply: string; ms: number }> {
  const started = Date.now();
  let reply = '';
  socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
  socket.on('error', () => undefined);
  if (data !== '') socket.write(data);
  await once(socket, 'close');
  return { reply, ms: Date.now() - started };
}

async function plain(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

describe('slow and malformed clients', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  let app: TestApp;
  let node: InboundProxy;
  let web: OutboundProxy;

  before(async () => {
    app = await startHttpApp('payments', 'http');
    node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } }, { timeouts });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { timeouts });
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await app.kill();
  });

  it('outbound: a client that sends nothing, or stalls in its headers, is dropped at the headers timeout', async () => {
    const silent = await until(await plain(web.httpPort ?? 0), '');
    assert.ok(silent.ms < 1500, `silent client kept ${silent.ms} ms`);
    const stalled = await until(await plain(web.httpPort ?? 0), 'GET / HTTP/1.1\r\nHost: payments.mesh\r\nX-Slow: ');
    assert.ok(stalled.ms < 1500, `stalled client kept ${stalled.ms} ms`);
    assert.match(stalled.reply, /^(HTTP\/1\.1 408 |$)/);
  });

  it('outbound: strict parsing refuses an ambiguous request (Content-Length with Transfer-Encoding)', async () => {
    const smuggle = 'POST / HTTP/1.1\r\nHost: payments.mesh\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    const { reply } = await until(await plain(web.httpPort ?? 0), smuggle);
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal(app.hits, 0);
  });

  it('inbound: an HTTP/1.1 caller stalling in its headers is dropped at the headers timeout', async () => {
    const socket = await mtlsConnect(node.port, pki.identity('eu', 'svc', 'web'), { servername: meshServerName('payments'), alpn: 'http/1.1' });
    const stalled = await until(socket, 'GET / HTTP/1.1\r\nHost: payments.mesh\r\nX-Slow: ');
    assert.ok(stalled.ms < 1500, `stalled caller kept ${stalled.ms} ms`);
  });
});
