import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { LinkStatus } from '../../../gateway/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { waitUntil } from '../../support/harness.js';
import {
  instance,
  readUntil,
  startBlackholeRelay,
  startGateways,
  startTcpEcho,
  type BlackholeRelay,
  type EchoServer,
  type GatewayMesh,
  type GatewayTuning,
} from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

const pki = new TestTrustDomain();
const RAW = { site: 'b', service: 'raw', instanceId: 'raw-1' } as const;

/** Fast timings so failures and recoveries happen within a second. */
function tuning(transitions: LinkStatus[]): GatewayTuning {
  return {
    pingIntervalMs: 100,
    pingTimeoutMs: 300,
    handshakeTimeoutMs: 500,
    backoff: { initialMs: 50, maxMs: 400 },
    // These tests watch the down state itself: streams fail at once instead of waiting for a re-dial.
    holdWhileDownMs: 0,
    onLinkChange: (link) => transitions.push(link),
  };
}

async function echoOnce(stream: Duplex, text: string): Promise<void> {
  const echoed = readUntil(stream, (t) => t === text);
  stream.write(text);
  await echoed;
}

async function roundTrip(mesh: GatewayMesh, node: string): Promise<void> {
  const stream = await mesh.agentDialer('a', node).dial(RAW);
  await echoOnce(stream, `via ${node}\n`);
  stream.end();
  await once(stream, 'close');
}

const linkOf = (mesh: GatewayMesh): LinkStatus | undefined => mesh.gateways.a.links()[0];

describe('tunnel recovery', () => {
  let echo: EchoServer;
  before(async () => {
    echo = await startTcpEcho();
  });
  after(() => echo.close());

  it('re-dials a restarted remote gateway with bounded backoff and reports each transition', async () => {
    const transitions: LinkStatus[] = [];
    const mesh = await startGateways(pki, { instances: { b: [instance({ ...RAW, meshPort: echo.address.port })] }, tuning: tuning(transitions), sites: ['a', 'b'] });
    try {
      await roundTrip(mesh, 'node-1');
      await waitUntil(() => typeof linkOf(mesh)?.rttMs === 'number', 'an RTT measurement', 5000);
      assert.equal(linkOf(mesh)?.state, 'up');

      await mesh.restart('b', async () => {
        await waitUntil(() => linkOf(mesh)?.state === 'down', 'the link to go down', 5000);
        const downSince = linkOf(mesh)?.since.getTime();
        const started = Date.now();
        await assert.rejects(mesh.agentDialer('a', 'node-2').dial(RAW), (e: unknown) => isMeridianError(e, 'MERIDIAN_ERR_UNAVAILABLE') && /tunnel to site b is down since/.test(e.message));
        assert.ok(Date.now() - started < 250, 'a dial to a down site fails fast');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const down = linkOf(mesh);
        // 50, 100, 200, 400, 400 ms... : a handful of attempts in a second, not a tight loop.
        assert.ok(down !== undefined && down.failures >= 3 && down.failures <= 12, `backoff attempts in 1 s: ${down?.failures}`);
        assert.equal(down.since.getTime(), downSince, 'retries keep the time the link went down');
        assert.match(down.lastError ?? '', /ECONNREFUSED|cannot reach gateway/);
      });
      await waitUntil(() => linkOf(mesh)?.state === 'up', 'the link to come back up', 3000);
      await roundTrip(mesh, 'node-3');

      const states = transitions.map((t) => t.state);
      assert.equal(states[0], 'up');
      assert.ok(states.indexOf('down') > 0, `went down: ${states.join(' → ')}`);
      assert.equal(states.at(-1), 'up');
      assert.equal(linkOf(mesh)?.failures, 0);
    } finally {
      await mesh.close();
    }
  });

  describe('through a path that stops answering', () => {
    let relay: BlackholeRelay;
    let mesh: GatewayMesh;
    const transitions: LinkStatus[] = [];
    before(async () => {
      mesh = await startGateways(pki, { instances: { b: [instance({ ...RAW, meshPort: echo.address.port })] }, tuning: tuning(transitions), sites: ['a', 'b'] });
      relay = await startBlackholeRelay(mesh.gateways.b.address);
      mesh.resolvers.a.setGateway('b', relay.address);
    });
    after(async () => {
      await mesh.close();
      await relay.close();
    });

    it('destroys a tunnel whose heartbeat goes unanswered, cuts its streams, and re-dials', async () => {
      const open = await mesh.agentDialer('a', 'node-1').dial(RAW);
      await echoOnce(open, 'before the partition\n');
      await waitUntil(() => linkOf(mesh)?.state === 'up', 'the link to be up', 5000);

      relay.blackhole = true;
      const cut = once(open, 'close');
      open.on('error', () => undefined);
      await waitUntil(() => linkOf(mesh)?.state === 'down', 'the heartbeat to fail', 2000);
      assert.match(linkOf(mesh)?.lastError ?? '', /heartbeat unanswered for 300 ms/);
      await cut;
      assert.equal((open as ClientHttp2Stream).rstCode, constants.NGHTTP2_CANCEL, 'the stream was reset, not ended cleanly');

      relay.blackhole = false;
      await waitUntil(() => linkOf(mesh)?.state === 'up', 'the link to recover', 3000);
      await roundTrip(mesh, 'node-2');
    });
  });

  it('closes idle agent sessions but keeps idle streams and heartbeating tunnels', async () => {
    const transitions: LinkStatus[] = [];
    const mesh = await startGateways(pki, {
      instances: { b: [instance({ ...RAW, meshPort: echo.address.port })] },
      tuning: { ...tuning(transitions), sessionIdleMs: 300 },
      sites: ['a', 'b'],
    });
    try {
      const dialer = mesh.agentDialer('a');
      const quiet = await dialer.dial(RAW);
      await echoOnce(quiet, 'first\n');
      await waitUntil(() => linkOf(mesh)?.state === 'up', 'the link to be up', 5000);
      const upSince = linkOf(mesh)?.since.getTime();
      await new Promise((resolve) => setTimeout(resolve, 700));
      // A silent stream is a legitimate idle connection: the session that carries it stays.
      await echoOnce(quiet, 'after 700 ms of silence\n');
      quiet.end();
      await once(quiet, 'close');
      await waitUntil(() => mesh.gateways.a.stats().sessions.agent === 0, 'the idle agent session to be closed', 2000);
      // The tunnel's PINGs count as activity at b: same session, never re-dialled.
      assert.equal(linkOf(mesh)?.state, 'up');
      assert.equal(linkOf(mesh)?.since.getTime(), upSince);
      assert.equal(mesh.gateways.b.stats().sessionsAccepted, 1);
      // The dialer notices the closed session and dials a new one on demand.
      await roundTrip(mesh, 'node-1');
    } finally {
      await mesh.close();
    }
  });
});
