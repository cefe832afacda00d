/**
 * Revocation at the east-west gateway, through real gateways, real TLS 1.3 and certificates made
 * at test time: a revoked agent or gateway leaf is refused at every handshake (resumed TLS
 * sessions included), the open tunnels of a peer a new policy revokes are cut, the tunnel to a
 * revoked gateway is not dialled back in while it stays revoked, and every other peer goes on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2, { type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { isMeridianError } from '../../../shared/errors/index.js';
import { mtlsClientOptions, type MtlsIdentity } from '../../../shared/identity/index.js';
import { GatewayDialer, type MeshTarget } from '../../../shared/mesh/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from '../../support/harness.js';
import { instance, readUntil, startGateways, startTcpEcho, type EchoServer, type GatewayMesh } from '../../support/mesh/index.js';
import { TestTrustDomain, spiffe } from '../../support/pki/index.js';
import { ALREADY_PAST, FAR_FUTURE, RevocationPolicy } from '../../support/revocation-policy.js';

const pki = new TestTrustDomain();
const revocations = new RevocationPolicy();
const { policy } = revocations;
const FAR = FAR_FUTURE();
const PAST = ALREADY_PAST();
const TO_B: MeshTarget = { site: 'b', service: 'open', instanceId: 'open-b' };
const TO_C: MeshTarget = { site: 'c', service: 'open', instanceId: 'open-c' };

let mesh: GatewayMesh;
let echo: EchoServer;
const dialers: GatewayDialer[] = [];

/** A node agent of site a dialling its gateway with `who`. */
function agentDialer(who: MtlsIdentity): GatewayDialer {
  const dialer = new GatewayDialer({ gateway: mesh.gateways.a.address, identity: () => who, expectSite: 'a', handshakeTimeoutMs: 2000 });
  dialers.push(dialer);
  return dialer;
}

/** One echo round trip over `stream`: it carries bytes end to end. */
async function roundTrip(stream: Duplex, tag: string): Promise<void> {
  stream.write(`${tag}\n`);
  await readUntil(stream, (text) => text.includes(tag), 3000);
}

async function refusedAsRevoked(dial: Promise<unknown>, uri: string, atVersion: number): Promise<void> {
  await assert.rejects(dial, (error: unknown) => {
    assert.ok(isMeridianError(error), String(error));
    assert.ok(error.message.includes(uri), error.message);
    assert.ok(error.message.includes(`is revoked by policy version ${atVersion}`), error.message);
    return true;
  });
}

before(async () => {
  echo = await startTcpEcho();
  const port = echo.address.port;
  mesh = await startGateways(pki, {
    instances: {
      b: [instance({ site: 'b', service: 'open', instanceId: 'open-b', meshPort: port })],
      c: [instance({ site: 'c', service: 'open', instanceId: 'open-c', meshPort: port })],
    },
    // One policy for the federation; short backoff so a re-dial would show within the test.
    tuning: { policy, backoff: { initialMs: 50, maxMs: 200 }, holdWhileDownMs: 0 },
  });
});

after(async () => {
  await Promise.all(dialers.map((d) => d.close(100)));
  await mesh.close();
  await echo.close();
});

describe('revocation at the gateway', () => {
  it('a revoked agent: its open tunnel is cut, its next handshake refused naming it and the version; another agent goes on undisturbed', async () => {
    const revoked = pki.identity('a', 'agent', 'node-1');
    const other = pki.identity('a', 'agent', 'node-2');
    const stream = await agentDialer(revoked).dial(TO_B);
    const kept = await agentDialer(other).dial(TO_B);
    await roundTrip(stream, 'before-1');
    await roundTrip(kept, 'before-2');
    const refusedBefore = mesh.gateways.a.stats().sessionsRefused;

    const v = revocations.revoke({ identity: revoked.uri, notAfter: FAR });
    await waitUntil(() => stream.destroyed, 'the revoked agent’s stream to close');
    await refusedAsRevoked(agentDialer(revoked).dial(TO_B), revoked.uri, v);
    // A fresh certificate of the same identity expires before the entry: refused as well.
    await refusedAsRevoked(agentDialer(pki.identity('a', 'agent', 'node-1')).dial(TO_B), revoked.uri, v);
    assert.ok(mesh.gateways.a.stats().sessionsRefused >= refusedBefore + 2);

    await roundTrip(kept, 'after-2');
    await roundTrip(await agentDialer(other).dial(TO_C), 'after-2c');
    assert.ok(mesh.logs.a.lines.some((l) => l.message === 'session closed: peer revoked' && l.fields['peer'] === revoked.uri));
  });

  it('a revoked serial refuses that certificate only; a revocation already expired blocks nothing', async () => {
    const stolen = pki.identity('a', 'agent', 'node-3');
    const reissued = pki.identity('a', 'agent', 'node-3');
    const old = pki.identity('a', 'agent', 'node-4');
    const v = revocations.revoke({ serial: stolen.serial, notAfter: FAR }, { serial: old.serial, notAfter: PAST }, { identity: spiffe('a', 'node-5', 'agent'), notAfter: PAST });
    await refusedAsRevoked(agentDialer(stolen).dial(TO_B), stolen.uri, v);
    await roundTrip(await agentDialer(reissued).dial(TO_B), 'reissued');
    await roundTrip(await agentDialer(old).dial(TO_B), 'expired-serial');
    await roundTrip(await agentDialer(pki.identity('a', 'agent', 'node-5')).dial(TO_B), 'expired-identity');
  });

  it('TLS session resumption cannot bring a revoked agent back: every connection is a full handshake, judged when it is made', async () => {
    const agent = pki.identity('a', 'agent', 'node-6');
    const first = await h2(agent);
    const ticket = await first.ticket;
    await first.close();
    const accepted = mesh.gateways.a.stats().sessionsAccepted;
    const offered = await h2(agent, ticket);
    assert.equal(offered.socket.isSessionReused(), false, 'the gateway resumed a TLS session');
    await ping(offered.session);
    await waitUntil(() => mesh.gateways.a.stats().sessionsAccepted === accepted + 1, 'the full handshake to be admitted');
    await offered.close();

    const v = revocations.revoke({ identity: agent.uri, notAfter: FAR });
    const refused = await h2(agent, ticket);
    assert.equal(refused.socket.isSessionReused(), false, 'the gateway resumed a TLS session');
    const [code, , data] = (await once(refused.session, 'goaway')) as [number, number, Buffer | undefined];
    assert.equal(code, http2.constants.NGHTTP2_INADEQUATE_SECURITY);
    assert.match(data?.toString('utf8') ?? '', new RegExp(`^${agent.uri.replaceAll('.', '\\.')} \\(certificate serial [0-9A-F]+\\) is revoked by policy version ${v}$`));
    await refused.close();
  });

  it("a revoked peer gateway: the tunnel to it is cut and not re-established while revoked; the other site's tunnel and streams go on", async () => {
    const agent = pki.identity('a', 'agent', 'node-7');
    const toB = await agentDialer(agent).dial(TO_B);
    const toC = await agentDialer(agent).dial(TO_C);
    await roundTrip(toB, 'b-before');
    await roundTrip(toC, 'c-before');
    const linkC = link('c');
    assert.equal(linkC.state, 'up');
    const gatewayB = spiffe('b', 'gw-b', 'gateway');

    const v = revocations.revoke({ identity: gatewayB, notAfter: FAR });
    await waitUntil(() => toB.destroyed, 'the stream over the revoked tunnel to close');
    await waitUntil(() => link('b').state === 'down', 'the tunnel to b to go down');
    assert.match(link('b').lastError ?? '', new RegExp(`gateway of site b: ${gatewayB.replaceAll('.', '\\.')} \\(certificate serial [0-9A-F]+\\) is revoked by policy version ${v}`));
    // The link keeps re-dialling with backoff; each handshake is refused: it never comes up.
    const failures = link('b').failures;
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      assert.notEqual(link('b').state, 'up', 'the tunnel to a revoked gateway came back');
      await sleep(20);
    }
    assert.ok(link('b').failures > failures + 2, `re-dials were made and refused (${link('b').failures - failures})`);
    await assert.rejects(agentDialer(agent).dial(TO_B), (error: unknown) => isMeridianError(error) && error.message.includes('is revoked by policy version'));

    await roundTrip(toC, 'c-after');
    assert.equal(link('c').state, 'up');
    assert.equal(link('c').since.getTime(), linkC.since.getTime(), 'the tunnel to c never went down');

    // Lifted: the next dial brings the tunnel back.
    revocations.lift(gatewayB);
    await waitUntil(() => link('b').state === 'up', 'the tunnel to b to come back', 5000);
    await roundTrip(await agentDialer(agent).dial(TO_B), 'b-lifted');
  });
});

function link(site: string): ReturnType<GatewayMesh['gateways']['a']['links']>[number] {
  return mesh.gateways.a.links().find((l) => l.site === site) ?? assert.fail(`no link to ${site}`);
}

/** A raw HTTP/2 session to gateway a over TLS 1.3 as `who`, resuming `session` when given; `ticket` is the next session to resume. */
async function h2(who: MtlsIdentity, session?: Buffer): Promise<{ session: ClientHttp2Session; socket: TLSSocket; ticket: Promise<Buffer>; close(): Promise<void> }> {
  const { address, port } = mesh.gateways.a.address;
  const socket = tlsConnect({
    host: address,
    port,
    ...mtlsClientOptions(who, (peer) => peer.kind === 'gateway' && peer.site === 'a'),
    servername: 'gateway.a.mesh',
    ALPNProtocols: ['h2'],
    ...(session === undefined ? {} : { session }),
  });
  socket.on('error', () => undefined);
  const ticket = new Promise<Buffer>((resolve, reject) => {
    socket.once('session', resolve);
    socket.once('close', () => reject(new Error('no session ticket')));
  });
  ticket.catch(() => undefined);
  await once(socket, 'secureConnect');
  const client = http2.connect(`https://${address}:${port}`, { createConnection: () => socket });
  client.on('error', () => undefined);
  return {
    session: client,
    socket,
    ticket,
    close: () => new Promise<void>((resolve) => {
      if (client.destroyed) resolve();
      else client.close(() => resolve());
      setTimeout(() => client.destroy(), 500).unref();
    }),
  };
}

async function ping(session: ClientHttp2Session): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    session.ping((error) => (error === null ? resolve() : reject(error)));
  });
}
