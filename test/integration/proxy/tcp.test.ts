import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { startCaller, startNode, startTcpEcho, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

/** Sends `payload` and reads exactly as many bytes back. */
async function echoThrough(port: number, payload: Buffer): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${received} of ${payload.length} bytes`)));
  });
  socket.write(payload);
  await done;
  socket.destroy();
  return Buffer.concat(chunks);
}

describe('TCP upstream ports', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  let echo: { port: number; close: () => Promise<void> };
  let node: InboundProxy;
  let web: OutboundProxy;

  before(async () => {
    echo = await startTcpEcho();
    node = await startNode(pki, 'eu', { cache: { address: '127.0.0.1', port: echo.port, protocol: 'tcp' } });
    catalog.add({ service: 'cache', instanceId: 'cache-1', site: 'eu', meshPort: node.port, protocol: 'tcp' });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, {
      upstreams: [
        { service: 'cache', port: 0 },
        { service: 'nowhere', port: 0 },
      ],
    });
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await echo.close();
  });

  it('echoes raw bytes through the mesh, concurrently and in bulk', async () => {
    const port = web.upstreams.find((u) => u.service === 'cache')?.port ?? 0;
    const payloads = [Buffer.from('hello mesh'), randomBytes(2 * 1024 * 1024), randomBytes(64 * 1024)];
    const echoed = await Promise.all(payloads.map((p) => echoThrough(port, p)));
    echoed.forEach((bytes, i) => assert.ok(bytes.equals(payloads[i] ?? Buffer.alloc(0)), `payload ${i} intact`));
  });

  it('closes the client connection when the service has no instance', async () => {
    const port = web.upstreams.find((u) => u.service === 'nowhere')?.port ?? 0;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.write('anyone?');
    await once(socket, 'close');
    assert.equal(bytes, 0);
  });
});
