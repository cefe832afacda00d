import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { isMeridianError } from '../../../shared/errors/index.js';
import { mtlsClientOptions } from '../../../shared/identity/index.js';
import { waitUntil } from '../../support/harness.js';
import { instance, readUntil, startGateways, startTcpEcho, startTlsEcho, type EchoServer, type GatewayMesh } from '../../support/mesh/index.js';
import { nestedTls, TestTrustDomain } from '../../support/pki/index.js';

const pki = new TestTrustDomain();
const echoIdentity = pki.identity('b', 'svc', 'echo');
const frontend = pki.identity('a', 'svc', 'frontend');
const ECHO = { site: 'b', service: 'echo', instanceId: 'echo-1' } as const;
const RAW = { site: 'b', service: 'raw', instanceId: 'raw-1' } as const;

describe('gateway tunnels between sites', () => {
  let mesh: GatewayMesh;
  let tlsEcho: EchoServer;
  let tcpEcho: EchoServer;

  before(async () => {
    tlsEcho = await startTlsEcho(echoIdentity);
    tcpEcho = await startTcpEcho();
    mesh = await startGateways(pki, {
      instances: { b: [instance({ ...ECHO, meshPort: tlsEcho.address.port }), instance({ ...RAW, meshPort: tcpEcho.address.port })] },
      tuning: { pingIntervalMs: 200 },
    });
  });
  after(async () => {
    await mesh.close();
    await tlsEcho.close();
    await tcpEcho.close();
  });

  it("carries the calling workload's own TLS session end to end: each end verifies the other's SPIFFE ID", async () => {
    const dialer = mesh.agentDialer('a');
    const stream = await dialer.dial(ECHO);
    const { socket, server } = await nestedTls(stream, frontend, (p) => p.kind === 'svc' && p.site === 'b' && p.name === 'echo', 'echo');
    assert.equal(server.uri, 'spiffe://acme.internal/site/b/svc/echo');
    // The destination verified the workload itself, not the agent or either gateway.
    await readUntil(socket, (t) => t === 'hello spiffe://acme.internal/site/a/svc/frontend\n');
    assert.deepEqual(tlsEcho.peers, ['spiffe://acme.internal/site/a/svc/frontend']);
    socket.write('round trip 1\n');
    await readUntil(socket, (t) => t === 'round trip 1\n');
    socket.end();
    await once(socket, 'close');

    const [link] = mesh.gateways.a.links();
    assert.equal(mesh.gateways.a.links().length, 1);
    assert.equal(link?.site, 'b');
    assert.equal(link?.state, 'up');
    assert.ok((link?.bytesOut ?? 0) > 0 && (link?.bytesIn ?? 0) > 0, 'the link counts relayed bytes');
    assert.ok(mesh.gateways.b.stats().tcpBytesIn > 0);
    await waitUntil(() => typeof mesh.gateways.a.links()[0]?.rttMs === 'number', 'a heartbeat RTT', 5000);
    assert.ok(mesh.gateways.a.links()[0]?.lastHeartbeat instanceof Date);
  });

  it('multiplexes 50 concurrent streams over one agent session and one gateway-pair session', async () => {
    const dialer = mesh.agentDialer('a', 'node-2');
    const acceptedAtB = mesh.gateways.b.stats().sessionsAccepted;
    const acceptedAtA = mesh.gateways.a.stats().sessionsAccepted;
    const streams = await Promise.all(Array.from({ length: 50 }, () => dialer.dial(RAW)));
    // All 50 are open at once over the single tunnel.
    assert.equal(mesh.gateways.a.links()[0]?.streams, 50);
    assert.equal(mesh.gateways.b.stats().streams.active, 50);
    await Promise.all(streams.map((stream, i) => roundTrip(stream, `${i}:${randomBytes(8 * 1024).toString('hex')}\n`)));

    assert.equal(mesh.gateways.a.links().length, 1, 'one link to site b');
    assert.equal(mesh.gateways.b.stats().sessions.gateway, 1, 'gateway b holds one session from gateway a');
    assert.equal(mesh.gateways.b.stats().sessionsAccepted, acceptedAtB, 'no new tunnel session was opened');
    assert.equal(mesh.gateways.a.stats().sessionsAccepted, acceptedAtA + 1, "one session for the agent's 50 streams");
    await waitUntil(() => mesh.gateways.a.links()[0]?.streams === 0, 'streams to close', 5000);
    assert.ok(tcpEcho.connections >= 50);
  });

  it('moves 4 MiB each way through both gateways with back-pressure, byte for byte', async () => {
    const stream = await mesh.agentDialer('a', 'node-4').dial(RAW);
    const payload = randomBytes(4 << 20);
    const received: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = once(stream, 'end');
    const bytesBefore = mesh.gateways.a.links()[0]?.bytesOut ?? 0;
    // Written in 64 KiB pieces, waiting on 'drain': the tunnel's flow control is what paces the writer.
    for (let offset = 0; offset < payload.length; offset += 64 << 10) {
      if (!stream.write(payload.subarray(offset, offset + (64 << 10)))) await once(stream, 'drain');
    }
    stream.end();
    await ended;
    const echoed = Buffer.concat(received);
    assert.equal(echoed.length, payload.length);
    assert.equal(createHash('sha256').update(echoed).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    assert.ok((mesh.gateways.a.links()[0]?.bytesOut ?? 0) - bytesBefore >= payload.length);
  });

  it('a renewed gateway certificate is presented to new handshakes while open tunnels keep running', async () => {
    const before = mesh.gateways.a.links()[0];
    const renewed = pki.identity('b', 'gateway', 'gw-b');
    mesh.gateways.b.setIdentity(renewed);
    const probe = tls.connect({ host: '127.0.0.1', port: mesh.gateways.b.address.port, ALPNProtocols: ['h2'], servername: 'gateway.b.mesh', ...mtlsClientOptions(pki.identity('b', 'agent', 'probe')) });
    await once(probe, 'secureConnect');
    assert.equal(probe.getPeerX509Certificate()?.fingerprint256, renewed.chain[0]?.fingerprint256);
    probe.destroy();

    const stream = await mesh.agentDialer('a', 'node-3').dial(RAW);
    await roundTrip(stream, 'after renewal\n');
    const now = mesh.gateways.a.links()[0];
    assert.equal(now?.state, 'up');
    assert.equal(now?.since.getTime(), before?.since.getTime(), 'the tunnel was not re-dialled');

    assert.throws(() => mesh.gateways.b.setIdentity(pki.identity('b', 'gateway', 'other')), (e) => isMeridianError(e, 'MERIDIAN_ERR_BAD_ARGUMENT') && /must keep the gateway's SPIFFE ID/.test(e.message));
  });
});

/** Writes `payload`, reads the same bytes back, then closes cleanly in both directions. */
async function roundTrip(stream: Duplex, payload: string): Promise<void> {
  const echoed = readUntil(stream, (t) => t.length >= payload.length);
  stream.write(payload);
  assert.equal(await echoed, payload);
  stream.end();
  await once(stream, 'close');
}
