import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { ECHO_SERVICE, startGrpcApp, type EchoReply } from '../../support/apps.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { spiffe, TestTrustDomain } from '../../support/pki/index.js';

const { unary, count, chat } = ECHO_SERVICE;

function callUnary(client: Client, request: object, metadata = new Metadata()): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(unary.path, unary.requestSerialize, (b) => unary.responseDeserialize(b) as EchoReply, request, metadata, {}, (error, reply) =>
      error || reply === undefined ? reject(error ?? new Error('no reply')) : resolve(reply),
    );
  });
}

function collect(stream: NodeJS.ReadableStream): Promise<EchoReply[]> {
  return new Promise((resolve, reject) => {
    const replies: EchoReply[] = [];
    stream.on('data', (reply: EchoReply) => replies.push(reply));
    stream.on('end', () => resolve(replies));
    stream.on('error', reject);
  });
}

describe('gRPC through the outbound HTTP port', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  let app: { port: number; close: () => void };
  let node: InboundProxy;
  let web: OutboundProxy;
  let client: Client;

  before(async () => {
    app = await startGrpcApp();
    node = await startNode(pki, 'eu', { echo: { address: '127.0.0.1', port: app.port, protocol: 'grpc' } });
    catalog.add({ service: 'echo', instanceId: 'echo-1', site: 'eu', meshPort: node.port, protocol: 'grpc' });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    client = new Client(`127.0.0.1:${web.httpPort ?? 0}`, credentials.createInsecure(), { 'grpc.default_authority': 'echo.mesh' });
  });
  after(async () => {
    client.close();
    await web.close(1000);
    await node.close(1000);
    app.close();
  });

  it('unary: the app sees the verified caller in its metadata, not the spoofed one', async () => {
    const metadata = new Metadata();
    metadata.set('x-meridian-caller', 'spoofed');
    const reply = await callUnary(client, { message: 'hi' }, metadata);
    assert.deepEqual(reply, { message: 'hi', caller: spiffe('eu', 'web'), n: 0 });
  });

  it('keeps a gRPC error status (a trailers-only response) intact', async () => {
    await assert.rejects(callUnary(client, { fail: true }), (error: ServiceError) => {
      assert.equal(error.code, status.NOT_FOUND);
      assert.equal(error.details, 'no such echo');
      return true;
    });
  });

  it('server streaming: every message in order, then the status', async () => {
    const stream = client.makeServerStreamRequest(count.path, count.requestSerialize, (b) => count.responseDeserialize(b) as EchoReply, { message: 'tick', count: 50 });
    const replies = await collect(stream);
    assert.deepEqual(
      replies.map((r) => r.n),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });

  it('bidi streaming: each message answered while the call stays open', async () => {
    const call = client.makeBidiStreamRequest(chat.path, chat.requestSerialize, (b) => chat.responseDeserialize(b) as EchoReply);
    const replies: EchoReply[] = [];
    for (const message of ['a', 'b', 'c']) {
      call.write({ message });
      replies.push(await new Promise<EchoReply>((resolve) => call.once('data', resolve)));
    }
    call.end();
    await new Promise((resolve) => call.on('status', resolve));
    assert.deepEqual(replies, [
      { message: 'a', caller: '', n: 1 },
      { message: 'b', caller: '', n: 2 },
      { message: 'c', caller: '', n: 3 },
    ]);
  });

  it('an unresolvable service becomes UNAVAILABLE naming the service', async () => {
    const other = new Client(`127.0.0.1:${web.httpPort ?? 0}`, credentials.createInsecure(), { 'grpc.default_authority': 'missing.mesh' });
    try {
      await assert.rejects(callUnary(other, { message: 'x' }), (error: ServiceError) => {
        assert.equal(error.code, status.UNAVAILABLE);
        assert.match(error.details, /"missing"/);
        return true;
      });
    } finally {
      other.close();
    }
  });
});
