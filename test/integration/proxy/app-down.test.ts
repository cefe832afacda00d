import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { Balancer, type InboundProxy, type LocalService, type OutboundProxy } from '../../../agent/proxy/index.js';
import type { Protocol, ServiceInstance } from '../../../shared/catalog/index.js';
import { ECHO_SERVICE, startGrpcApp, startHttpApp, type EchoReply, type Seen } from '../../support/apps.js';
import { bodyJson, h1, h2, h2c, type Reply } from '../../support/clients.js';
import { regionOf, startCaller, startNode, startTcpEcho, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

/** Requests sent after the kill, spaced so that the dead instance's first ejection (1 s) ends in between. */
const AFTER_KILL = 40;
const SPACING_MS = 30;

/** A running app of either kind, killed like a crashed process: listener gone, connections cut. */
interface App {
  readonly port: number;
  kill(): Promise<void>;
}

async function startApp(name: string, protocol: Protocol): Promise<App> {
  if (protocol === 'http' || protocol === 'http2') return startHttpApp(name, protocol);
  if (protocol === 'grpc') {
    const app = await startGrpcApp();
    return { port: app.port, kill: () => Promise.resolve(app.close()) };
  }
  const app = await startTcpEcho();
  return { port: app.port, kill: () => app.close() };
}

/** One TCP round trip through an upstream port. */
async function tcpRoundTrip(port: number, payload: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.setTimeout(5000, () => socket.destroy());
  socket.end(payload);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  await once(socket, 'close');
  return received;
}

function unaryCall(client: Client, message: string): Promise<EchoReply> {
  const { unary } = ECHO_SERVICE;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(unary.path, unary.requestSerialize, (b) => unary.responseDeserialize(b) as EchoReply, { message }, new Metadata(), {}, (error, reply) =>
      error || reply === undefined ? reject(error ?? new Error('no reply')) : resolve(reply),
    );
  });
}

function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

describe('an instance whose app is down is failed over at once, with no failed request', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  /** Per service: its local app (site eu, killed by the tests) and its app in eu2 (same region, exported). */
  const services: Record<string, Protocol> = { orders: 'http', billing: 'http', ledger: 'http2', echo: 'grpc', cache: 'tcp', solo: 'http' };
  const local = new Map<string, App>();
  const remote: App[] = [];
  const nodes: InboundProxy[] = [];
  const balancer = new Balancer({ locality: { site: 'eu', region: regionOf('eu') }, candidates: catalog.candidates });
  let web: OutboundProxy;

  const instance = (service: string, site: string): ServiceInstance =>
    catalog.entries.find((e) => e.instance.service === service && e.instance.site === site)?.instance ?? assert.fail(`no ${service} in ${site}`);

  before(async () => {
    for (const site of ['eu', 'eu2']) {
      const locals: Record<string, LocalService> = {};
      for (const [service, protocol] of Object.entries(services)) {
        // solo has no instance but the local one: what a caller sees when nothing else can serve.
        if (service === 'solo' && site !== 'eu') continue;
        const app = await startApp(`${service}-${site}`, protocol);
        if (site === 'eu') local.set(service, app);
        else remote.push(app);
        locals[service] = { address: '127.0.0.1', port: app.port, protocol, exported: true };
      }
      const node = await startNode(pki, site, locals);
      nodes.push(node);
      for (const service of Object.keys(locals)) {
        catalog.add({ service, instanceId: `${service}-${site}`, site, meshPort: node.port, protocol: services[service] ?? 'http' });
      }
    }
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { balancer, upstreams: [{ service: 'cache', port: 0 }] });
  });
  after(async () => {
    await web.close(500);
    for (const node of nodes) await node.close(500);
    for (const app of [...local.values(), ...remote]) await app.kill();
  });

  /** Kills the local app of `service` (its agent lives on) and runs `call` AFTER_KILL times; every call must succeed. */
  async function killAndCall(service: string, call: (i: number) => Promise<void>): Promise<void> {
    await local.get(service)?.kill();
    const failures: string[] = [];
    for (let i = 0; i < AFTER_KILL; i++) {
      await call(i).catch((error: unknown) => failures.push(`#${i}: ${String(error)}`));
      if (i === 0) assert.equal(balancer.isEjected(instance(service, 'eu')), true, 'the dead instance is ejected at its first refusal');
      await sleep(SPACING_MS);
    }
    assert.deepEqual(failures, []);
    assert.equal(balancer.isEjected(instance(service, 'eu2')), false);
  }

  it('HTTP/1.1 passed through: GET and POST move to the other site, the body replayed whole', async () => {
    const port = web.httpPort ?? 0;
    assert.equal((await h1(port, { host: 'orders.mesh' })).headers['x-app'], 'orders-eu');
    await killAndCall('orders', async (i) => {
      const body = Buffer.from(`order ${i} `.repeat(100));
      const reply = i % 2 === 0 ? await h1(port, { host: 'orders.mesh' }) : await h1(port, { host: 'orders.mesh', method: 'POST', path: '/echo', body });
      assert.equal(reply.status, 200, reply.body.toString());
      if (i % 2 === 0) assert.equal(reply.headers['x-app'], 'orders-eu2');
      else assert.equal(sha256(reply.body), sha256(body));
    });
  });

  const onSession = async (run: (session: ClientHttp2Session) => Promise<void>): Promise<void> => {
    const session = await h2c(web.httpPort ?? 0);
    session.on('error', () => undefined);
    try {
      await run(session);
    } finally {
      session.close();
    }
  };

  for (const [service, what] of [
    ['ledger', 'HTTP/2 to an HTTP/2 app'],
    ['billing', 'HTTP/2 to an HTTP/1.1 app'],
  ] as const) {
    it(`${what}: GET and POST move to the other site`, async () => {
      await onSession(async (session) => {
        const first = await h2(session, { ':authority': `${service}.mesh` });
        assert.equal(bodyJson<Seen>(first).app, `${service}-eu`);
        await killAndCall(service, async (i) => {
          const body = Buffer.from(`entry ${i} `.repeat(100));
          const reply: Reply = await h2(session, { ':authority': `${service}.mesh`, ':method': 'POST', ':path': '/' }, body);
          assert.equal(reply.status, 200, reply.body.toString());
          const seen = bodyJson<Seen>(reply);
          assert.equal(seen.app, `${service}-eu2`);
          assert.equal(seen.bodySha256, sha256(body));
        });
      });
    });
  }

  it('gRPC: unary calls keep succeeding', async () => {
    const client = new Client(`127.0.0.1:${web.httpPort ?? 0}`, credentials.createInsecure(), { 'grpc.default_authority': 'echo.mesh' });
    try {
      assert.equal((await unaryCall(client, 'before')).message, 'before');
      await killAndCall('echo', async (i) => {
        assert.equal((await unaryCall(client, `call ${i}`)).message, `call ${i}`);
      });
    } finally {
      client.close();
    }
  });

  it('TCP: every new connection reaches a live app', async () => {
    const port = web.upstreams[0]?.port ?? 0;
    assert.equal(await tcpRoundTrip(port, 'before'), 'before');
    await killAndCall('cache', async (i) => {
      assert.equal(await tcpRoundTrip(port, `ping ${i}`), `ping ${i}`);
    });
  });

  it('with no other instance, the caller gets 502 naming the instance whose app is down', async () => {
    const port = web.httpPort ?? 0;
    assert.equal((await h1(port, { host: 'solo.mesh' })).status, 200);
    await local.get('solo')?.kill();
    const reply = await h1(port, { host: 'solo.mesh', method: 'POST', body: Buffer.from('x') });
    assert.equal(reply.status, 502);
    assert.deepEqual(bodyJson(reply), {
      code: 'MERIDIAN_ERR_UPSTREAM_CONNECT',
      message: 'service "solo": instance solo-eu of service "solo" (site eu) could not reach its app: the request was not processed',
    });
    assert.equal(balancer.isEjected(instance('solo', 'eu')), true);
  });
});
