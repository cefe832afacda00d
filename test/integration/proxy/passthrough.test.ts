import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { InboundConnectionInfo, InboundProxy, OutboundProxy, RequestRecord } from '../../../agent/proxy/index.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { bodyJson, h1 } from '../../support/clients.js';
import { waitUntil } from '../../support/harness.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { spiffe, TestTrustDomain } from '../../support/pki/index.js';

/** A TCP relay in front of an inbound listener, able to make the connections it carries go stale. */
interface StaleRelay {
  readonly port: number;
  /** Connections through the relay so far. */
  readonly opened: number;
  /**
   * Every open connection closes, unanswered, on the next bytes its client sends: what a caller
   * sees when the destination let an idle keep-alive connection go just as a request went out.
   */
  staleAll(): void;
  close(): Promise<void>;
}

async function startRelay(target: number): Promise<StaleRelay> {
  const pairs = new Set<{ stale: boolean; client: net.Socket; upstream: net.Socket }>();
  let opened = 0;
  const server = net.createServer((client) => {
    opened += 1;
    const upstream = net.connect(target, '127.0.0.1');
    const pair = { stale: false, client, upstream };
    pairs.add(pair);
    const cut = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => (pair.stale ? cut() : upstream.write(chunk)));
    upstream.pipe(client);
    for (const socket of [client, upstream]) {
      socket.on('error', cut);
      socket.on('close', cut);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get opened() {
      return opened;
    },
    staleAll: () => {
      for (const pair of pairs) pair.stale = true;
    },
    close: async () => {
      for (const pair of pairs) pair.client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('HTTP/1.1 passed through between agents', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  const connections: InboundConnectionInfo[] = [];
  const records: RequestRecord[] = [];
  let app: TestApp;
  let node: InboundProxy;
  let relay: StaleRelay;
  let web: OutboundProxy;
  let port = 0;

  before(async () => {
    app = await startHttpApp('payments', 'http');
    const services = { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' as const } };
    node = await startNode(pki, 'eu', services, { onConnection: (info) => connections.push(info), onRequest: (record) => records.push(record) });
    relay = await startRelay(node.port);
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: relay.port });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { onRequest: (record) => records.push(record) });
    port = web.httpPort ?? 0;
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await relay.close();
    await app.kill();
  });

  it('reuses a keep-alive connection for sequential calls, and opens one per concurrent call', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await h1(port, { host: 'payments.mesh' })).status, 200);
    assert.equal(connections.length, 1);
    assert.equal(connections[0]?.alpn, 'http/1.1');
    assert.equal(connections[0]?.caller.uri, spiffe('eu', 'web'));
    const held = [1, 2, 3].map(() => h1(port, { host: 'payments.mesh', path: '/hold' }));
    await waitUntil(() => app.held === 3, '3 requests held');
    app.release();
    assert.ok((await Promise.all(held)).every((reply) => reply.status === 200));
    assert.equal(connections.length, 3, 'one pooled connection reused, two more opened');
    for (let i = 0; i < 5; i++) assert.equal((await h1(port, { host: 'payments.mesh' })).status, 200);
    assert.equal(connections.length, 3, 'all three kept for later calls');
  });

  it('the app sees HTTP/1.1, the verified caller and the trace, never a client-sent identity or hop-by-hop header', async () => {
    records.length = 0;
    const incoming = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const headers = {
      'X-Meridian-Caller': 'spoofed',
      'X-Forwarded-Client-Cert': 'By=spiffe://evil',
      'x-meridian-caller-service': 'evil',
      Connection: 'keep-alive, X-Hop',
      'X-Hop': 'secret',
      'X-Custom': 'kept',
      Traceparent: incoming,
    };
    const reply = await h1(port, { host: 'payments.mesh:8080', path: '/p?q=1', method: 'POST', headers, body: Buffer.from('hello') });
    assert.equal(reply.status, 200);
    const seen = bodyJson<Seen>(reply);
    assert.equal(seen.httpVersion, '1.1');
    assert.equal(seen.url, '/p?q=1');
    assert.equal(seen.bodyBytes, 5);
    assert.equal(seen.headers.host, 'payments.mesh:8080');
    assert.equal(seen.headers['x-meridian-caller'], spiffe('eu', 'web'));
    assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
    assert.equal(seen.headers['x-meridian-caller-service'], undefined);
    assert.equal(seen.headers['x-hop'], undefined);
    assert.equal(seen.headers['x-custom'], 'kept');
    const traceparent = String(seen.headers.traceparent);
    assert.equal(traceparent.slice(0, 36), incoming.slice(0, 36), 'same trace');
    assert.notEqual(traceparent, incoming);
    await waitUntil(() => records.length === 2, 'both records');
    const inbound = records.find((r) => r.direction === 'inbound');
    const outbound = records.find((r) => r.direction === 'outbound');
    assert.deepEqual({ ...inbound, durationMs: 0, startedAt: 0 }, {
      direction: 'inbound', service: 'payments', peerService: 'web', peerSite: 'eu', protocol: 'http',
      method: 'POST', path: '/p?q=1', status: 200, durationMs: 0, traceparent, startedAt: 0,
      // What the inbound received is what the outbound sent on: the client span is the server span's parent.
      incomingTraceparent: outbound?.traceparent,
    });
    assert.equal(outbound?.peerSite, 'eu');
    assert.equal(outbound?.path, '/p?q=1');
    assert.equal(outbound?.status, 200);
    assert.equal(outbound?.traceparent.slice(0, 36), incoming.slice(0, 36));
    assert.equal(outbound?.incomingTraceparent, incoming);
  });

  it('sends a request again, body and all, when its pooled connection closed before answering', async () => {
    assert.equal((await h1(port, { host: 'payments.mesh' })).status, 200);
    const hits = app.hits;
    const opened = relay.opened;
    relay.staleAll();
    const reply = await h1(port, { host: 'payments.mesh', method: 'POST', path: '/echo', body: Buffer.from('replayed body') });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'replayed body');
    assert.equal(app.hits, hits + 1, 'the app got the request once');
    assert.equal(relay.opened, opened + 1, 'on a new connection');
  });
});

describe('HTTP/1.1 connection rotation', () => {
  it('a pooled connection past maxSessionAgeMs closes and the next call opens a new one', async () => {
    const pki = new TestTrustDomain();
    const catalog = new TestCatalog();
    const connections: InboundConnectionInfo[] = [];
    const app = await startHttpApp('payments', 'http');
    const node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: app.port, protocol: 'http' } }, { onConnection: (info) => connections.push(info) });
    const relay = await startRelay(node.port);
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: relay.port });
    const web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { maxSessionAgeMs: 300 });
    try {
      assert.equal((await h1(web.httpPort ?? 0, { host: 'payments.mesh' })).status, 200);
      assert.equal((await h1(web.httpPort ?? 0, { host: 'payments.mesh' })).status, 200);
      assert.equal(connections.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal((await h1(web.httpPort ?? 0, { host: 'payments.mesh' })).status, 200);
      assert.equal(connections.length, 2);
      assert.equal(relay.opened, 2);
    } finally {
      await web.close(500);
      await node.close(500);
      await relay.close();
      await app.kill();
    }
  });
});
