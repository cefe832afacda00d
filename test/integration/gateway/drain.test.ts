import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isMeridianError } from '../../../shared/errors/index.js';
import { waitUntil } from '../../support/harness.js';
import { instance, readUntil, startGateways, startTcpEcho, type EchoServer, type GatewayMesh } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

const pki = new TestTrustDomain();
const RAW = { site: 'b', service: 'raw', instanceId: 'raw-1' } as const;

async function echoOnce(stream: Duplex, text: string): Promise<void> {
  const echoed = readUntil(stream, (t) => t === text);
  stream.write(text);
  await echoed;
}

describe('gateway drain', () => {
  let echo: EchoServer;
  let mesh: GatewayMesh;
  before(async () => {
    echo = await startTcpEcho();
  });
  after(() => echo.close());

  async function freshMesh(): Promise<GatewayMesh> {
    return startGateways(pki, { instances: { b: [instance({ ...RAW, meshPort: echo.address.port })] }, sites: ['a', 'b'] });
  }

  it('lets an in-flight stream flow and finish, refuses new dials, and resolves when the stream ends', async () => {
    mesh = await freshMesh();
    try {
      const dialer = mesh.agentDialer('a');
      const stream = await dialer.dial(RAW);
      await echoOnce(stream, 'before drain\n');

      const started = Date.now();
      let drainedAt: number | undefined;
      const drained = mesh.gateways.a.drain(5000).then(() => {
        drainedAt = Date.now();
      });
      await echoOnce(stream, 'while draining\n');
      // Whether the GOAWAY or the closed port answers first, the dial fails as unavailable.
      const refused = (e: unknown): boolean => isMeridianError(e, 'MERIDIAN_ERR_UNAVAILABLE') && /ECONNREFUSED|draining|GOAWAY/.test(e.message);
      await assert.rejects(dialer.dial(RAW), refused);
      await assert.rejects(mesh.agentDialer('a', 'node-2').dial(RAW), refused);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(drainedAt, undefined, 'drain waits for the open stream');
      await echoOnce(stream, 'still flowing\n');

      stream.end();
      await once(stream, 'close');
      await drained;
      assert.ok(drainedAt !== undefined && drainedAt - started < 2000, `drained ${String(drainedAt === undefined ? '-' : drainedAt - started)} ms after it began`);
      assert.equal(mesh.gateways.a.stats().streams.active, 0);
      assert.ok(mesh.logs.a.lines.some((l) => l.message === 'gateway drained' && l.fields['cut'] === false));
      await waitUntil(() => mesh.gateways.b.stats().sessions.gateway === 0, 'the tunnel session at b to close', 5000);
      assert.deepEqual(mesh.gateways.a.links().map((l) => [l.state, l.lastError]), [['down', 'the gateway is draining']]);
    } finally {
      await mesh.close();
    }
  });

  it('cuts a stuck stream at the bound: here the remote gateway drains under a tunnel stream', async () => {
    mesh = await freshMesh();
    try {
      const stuck = await mesh.agentDialer('a').dial(RAW);
      stuck.on('error', () => undefined);
      await echoOnce(stuck, 'never ends\n');
      const closed = once(stuck, 'close');
      const started = Date.now();
      await mesh.gateways.b.drain(300);
      const took = Date.now() - started;
      assert.ok(took >= 280 && took < 1500, `drain took ${took} ms for a 300 ms bound`);
      await closed;
      assert.ok(mesh.logs.b.lines.some((l) => l.message === 'drain bound reached: cutting open streams'));
      // A second call shares the first one's outcome.
      await mesh.gateways.b.drain(10_000);
    } finally {
      await mesh.close();
    }
  });
});
