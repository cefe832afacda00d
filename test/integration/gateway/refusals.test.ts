import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, staticResolver, type Gateway } from '../../../gateway/index.js';
import { GatewayDialer, type GatewayAddress, TARGET_INSTANCE_HEADER, type MeshTarget } from '../../../shared/mesh/index.js';
import { isMeridianError, type ErrorCode } from '../../../shared/errors/index.js';
import { mtlsClientOptions, mtlsServerOptions, type MtlsIdentity } from '../../../shared/identity/index.js';
import { waitUntil } from '../../support/harness.js';
import { instance, recordingLogger, startGateways, startTcpEcho, type EchoServer, type GatewayMesh } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

const pki = new TestTrustDomain();

/** Dials `target` through `gateway` as `who`; the rejection must carry `code` and a reason matching `reason`. */
async function assertRefused(gateway: GatewayAddress, who: MtlsIdentity, site: string, target: MeshTarget, code: ErrorCode, reason: RegExp): Promise<void> {
  const dialer = new GatewayDialer({ gateway, identity: () => who, expectSite: site, handshakeTimeoutMs: 2000 });
  try {
    await assert.rejects(dialer.dial(target), (error: unknown) => {
      assert.ok(isMeridianError(error), `expected a MeridianError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, reason);
      return true;
    });
  } finally {
    await dialer.close();
  }
}

describe('what a gateway refuses', () => {
  let mesh: GatewayMesh;
  let echo: EchoServer;
  const at = (site: 'a' | 'b' | 'c'): GatewayAddress => mesh.gateways[site].address;
  const agentA = pki.identity('a', 'agent', 'node-1');

  before(async () => {
    echo = await startTcpEcho();
    const port = echo.address.port;
    mesh = await startGateways(pki, {
      instances: {
        a: [instance({ site: 'a', service: 'local', instanceId: 'local-1', meshPort: port })],
        b: [
          instance({ site: 'b', service: 'open', instanceId: 'open-1', meshPort: port }),
          instance({ site: 'b', service: 'secret', instanceId: 'secret-1', meshPort: port, exported: false }),
          instance({ site: 'b', service: 'sick', instanceId: 'sick-1', meshPort: port, health: 'critical' }),
          instance({ site: 'b', service: 'portless', instanceId: 'portless-1' }),
        ],
      },
    });
  });
  after(async () => {
    await mesh.close();
    await echo.close();
  });

  it('an instance of a service that is not exported: 403 with the reason', async () => {
    await assertRefused(at('a'), agentA, 'a', { site: 'b', service: 'secret', instanceId: 'secret-1' }, 'MERIDIAN_ERR_FORBIDDEN', /service secret of site b is not exported/);
    const dialer = mesh.agentDialer('a');
    const error = await dialer.dial({ site: 'b', service: 'secret', instanceId: 'secret-1' }).catch((e: unknown) => e);
    assert.ok(isMeridianError(error));
    assert.equal(error.details?.['status'], 403);
  });

  it('unknown, mismatched, unhealthy and port-less instances', async () => {
    await assertRefused(at('a'), agentA, 'a', { site: 'b', service: 'open', instanceId: 'nope-9' }, 'MERIDIAN_ERR_NOT_FOUND', /unknown instance open\.b\/nope-9/);
    await assertRefused(at('a'), agentA, 'a', { site: 'b', service: 'secret', instanceId: 'open-1' }, 'MERIDIAN_ERR_NOT_FOUND', /open-1 is not an instance of service secret/);
    await assertRefused(at('a'), agentA, 'a', { site: 'b', service: 'sick', instanceId: 'sick-1' }, 'MERIDIAN_ERR_UNAVAILABLE', /not passing its health checks \(critical\)/);
    await assertRefused(at('a'), agentA, 'a', { site: 'b', service: 'portless', instanceId: 'portless-1' }, 'MERIDIAN_ERR_UNAVAILABLE', /has no mesh port/);
    await assertRefused(at('a'), agentA, 'a', { site: 'zz', service: 'open', instanceId: 'open-1' }, 'MERIDIAN_ERR_NOT_FOUND', /no gateway known for site zz/);
    assert.equal(echo.connections, 0, 'no refused stream reached the instance');
  });

  it("an own-site target: agents reach their own site's instances directly", async () => {
    await assertRefused(at('a'), agentA, 'a', { site: 'a', service: 'local', instanceId: 'local-1' }, 'MERIDIAN_ERR_FORBIDDEN', /own site: agents of site a reach its instances directly/);
  });

  it('a gateway asking for a site other than its peer (no transit through a third site)', async () => {
    await assertRefused(at('a'), mesh.identities.b, 'a', { site: 'c', service: 'open', instanceId: 'open-1' }, 'MERIDIAN_ERR_FORBIDDEN', /may only open streams to site a.*do not relay/);
  });

  it('a client whose certificate comes from a foreign CA fails the handshake', async () => {
    const refusedBefore = mesh.gateways.a.stats().sessionsRefused;
    // A raw client: GatewayDialer itself refuses to start with a credential its bundle does not vouch for.
    const intruder = pki.foreignIdentity('a', 'agent', 'node-1');
    const session = http2.connect(`https://127.0.0.1:${at('a').port}`, { ...mtlsClientOptions(intruder), servername: 'gateway.a.mesh' });
    session.on('error', () => undefined);
    const stream = session.request({ ':method': 'CONNECT', ':authority': 'open.b.mesh:443', [TARGET_INSTANCE_HEADER]: 'open-1' }, { endStream: false });
    stream.on('error', () => undefined);
    let answered = false;
    stream.on('response', () => (answered = true));
    await once(session, 'close');
    assert.equal(answered, false, 'the intruder got no answer');
    await waitUntil(() => mesh.gateways.a.stats().sessionsRefused > refusedBefore, 'the gateway to count the failed handshake', 5000);
    assert.ok(mesh.logs.a.lines.some((l) => l.message === 'handshake failed'));
  });

  const peers: [string, () => MtlsIdentity, RegExp][] = [
    ['a workload (svc) identity', () => pki.identity('a', 'svc', 'frontend'), /svc identity spiffe:\/\/acme\.internal\/site\/a\/svc\/frontend may not use an east-west gateway/],
    ['an agent of another site', () => pki.identity('b', 'agent', 'node-1'), /agent spiffe:\/\/acme\.internal\/site\/b\/agent\/node-1 belongs to site b/],
    ["a gateway of the gateway's own site", () => pki.identity('a', 'gateway', 'gw-other'), /is of this gateway's own site a/],
  ];
  for (const [name, who, reason] of peers) {
    it(`refuses the session of ${name} right after the handshake, saying why`, async () => {
      const refusedBefore = mesh.gateways.a.stats().sessionsRefused;
      await assertRefused(at('a'), who(), 'a', { site: 'b', service: 'open', instanceId: 'open-1' }, 'MERIDIAN_ERR_FORBIDDEN', reason);
      assert.equal(mesh.gateways.a.stats().sessionsRefused, refusedBefore + 1);
    });
  }

  it('an agent refuses a "gateway" that is not a gateway of its own site', async () => {
    // Gateway b's port, reached by an agent of site a that expects site a's gateway.
    await assertRefused(at('b'), agentA, 'a', { site: 'b', service: 'open', instanceId: 'open-1' }, 'MERIDIAN_ERR_UNAVAILABLE', /gateway\/gw-b is not the expected peer/);
  });

  it('serves classic CONNECT only, with a well-formed authority and instance header', async () => {
    const session = http2.connect(`https://127.0.0.1:${at('a').port}`, { ...mtlsClientOptions(agentA), servername: 'gateway.a.mesh' });
    session.on('error', () => undefined);
    const ask = async (headers: http2.OutgoingHttpHeaders): Promise<[number, string]> => {
      const stream = session.request(headers, { endStream: false });
      const [response] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      stream.close();
      return [Number(response[':status']), String(response['meridian-reason'])];
    };
    try {
      assert.deepEqual(await ask({ ':method': 'GET', ':path': '/' }), [400, 'only CONNECT is served (got GET)']);
      const [status, reason] = await ask({ ':method': 'CONNECT', ':authority': 'open.b.example:443', [TARGET_INSTANCE_HEADER]: 'open-1' });
      assert.equal(status, 400);
      assert.match(reason, /:authority must be <service>\.<site>\.mesh:443/);
      const [noInstance, why] = await ask({ ':method': 'CONNECT', ':authority': 'open.b.mesh:443' });
      assert.equal(noInstance, 400);
      assert.match(why, /header meridian-target-instance must hold the target instance id/);
    } finally {
      session.close();
    }
  });
});

describe('a gateway verifies the remote gateway it tunnels to', () => {
  const impostors: [string, () => MtlsIdentity, RegExp][] = [
    ['a workload identity of the target site', () => pki.identity('b', 'svc', 'echo'), /svc\/echo is not the expected peer/],
    ['the gateway of another site', () => pki.identity('c', 'gateway', 'gw-c'), /gateway\/gw-c is not the expected peer/],
  ];
  for (const [name, who, reason] of impostors) {
    it(`refuses to use a peer presenting ${name}`, async () => {
      const impostor = await startImpostor(who());
      const logger = recordingLogger();
      const gateway: Gateway = await startGateway({
        identity: pki.identity('a', 'gateway', 'gw-a'),
        resolver: staticResolver({ instances: [], gateways: { b: impostor.address } }),
        logger,
        backoff: { initialMs: 1000 },
      });
      const agent = pki.identity('a', 'agent', 'node-1');
      const dialer = new GatewayDialer({ gateway: gateway.address, identity: () => agent, expectSite: 'a' });
      try {
        await assert.rejects(dialer.dial({ site: 'b', service: 'open', instanceId: 'open-1' }), (error: unknown) =>
          isMeridianError(error, 'MERIDIAN_ERR_UNAVAILABLE') && reason.test(error.message) && error.details?.['status'] === 503);
        const [link] = gateway.links();
        assert.equal(link?.state, 'down');
        assert.match(link?.lastError ?? '', reason);
        assert.equal(impostor.streams, 0, 'the impostor never received a stream');
      } finally {
        await dialer.close();
        await gateway.close();
        await impostor.close();
      }
    });
  }
});

/** An HTTP/2 server with a valid certificate of the trust domain that is not the expected gateway. */
async function startImpostor(who: MtlsIdentity): Promise<{ address: GatewayAddress; streams: number; close(): Promise<void> }> {
  const server = http2.createSecureServer({ ...mtlsServerOptions(who), allowHTTP1: false });
  const state = { streams: 0 };
  server.on('stream', (stream) => {
    state.streams += 1;
    stream.respond({ ':status': 200 });
  });
  server.on('session', (session) => session.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(state, {
    address: { address: '127.0.0.1', port: (server.address() as AddressInfo).port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
