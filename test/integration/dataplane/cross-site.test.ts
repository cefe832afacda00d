import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import type { RunningAgent } from '../../../agent/index.js';
import { EchoClient, startExampleGrpcService, startExampleHttpService, type EchoReply } from '../../../dev/examples/index.js';
import { loadMtlsIdentity, type MtlsIdentity } from '../../../shared/identity/index.js';
import { startHttpApp, type Seen } from '../../support/apps.js';
import { bodyJson, h2 } from '../../support/clients.js';
import { mtlsH2 } from '../../support/pki/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, startTcpEcho, type FederationMesh } from '../../support/mesh/index.js';

const FRONTEND = 'spiffe://acme.internal/site/east/svc/frontend';
let mesh: FederationMesh;
let east: RunningAgent;
let west: RunningAgent;
let outboundPort: number;
let tcpUpstreamPort: number;

async function tcpEcho(): Promise<number> {
  const echo = await startTcpEcho();
  fileScope.after(() => echo.close());
  return echo.port;
}

async function usableAt(agent: RunningAgent, service: string, site: string): Promise<void> {
  await eventually(() => assert.ok(agent.view.query({ service, site }).some((e) => e.usable && e.instance.meshPort !== undefined), `${service}@${site} not usable yet`), { timeoutMs: 15_000 });
}

before(async () => {
  mesh = await startFederationMesh(['east', 'west', 'north']);
  [east, west] = await Promise.all([mesh.agent('east', 'east-1'), mesh.agent('west', 'west-1')]);
  const payments = await startExampleHttpService({ service: 'payments', site: 'west' });
  const grpc = await startExampleGrpcService({ service: 'echo', site: 'west' });
  fileScope.after(() => payments.close());
  fileScope.after(() => grpc.close());
  [outboundPort, tcpUpstreamPort] = await Promise.all([freePort(), freePort()]);
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  await west.registrar.register({ service: 'echo', ports: { grpc: grpc.port }, protocol: 'grpc', export: true }, { kind: 'api' });
  await west.registrar.register({ service: 'raw', ports: { tcp: await tcpEcho() }, protocol: 'tcp', export: true }, { kind: 'api' });
  await west.registrar.register({ service: 'private', ports: { http: payments.port } }, { kind: 'api' });
  const frontend = await startExampleHttpService({ service: 'frontend', site: 'east' });
  fileScope.after(() => frontend.close());
  await east.registrar.register(
    { service: 'frontend', ports: { http: frontend.port }, outbound: { http: outboundPort, upstreams: [{ service: 'raw', port: tcpUpstreamPort }] } },
    { kind: 'api' },
  );
  await Promise.all(['payments', 'echo', 'raw', 'private'].map((service) => usableAt(east, service, 'west')));
  await eventually(() => assert.ok(east.dataPlane?.outbound().get('frontend')?.httpPort === outboundPort), { timeoutMs: 15_000 });
});

function get(host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: outboundPort, path: '/', headers: { host, ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cross-site calls through agents and gateways', () => {
  it('HTTP/1.1: the destination sees the real caller identity; a spoofed identity header is dropped', async () => {
    const response = await get('payments.mesh', { 'x-meridian-caller': 'spiffe://acme.internal/site/west/svc/admin' });
    assert.equal(response.status, 200, response.body);
    assert.deepEqual(JSON.parse(response.body), { service: 'payments', site: 'west', caller: FRONTEND, path: '/' });
  });

  it('HTTP/2 (h2c to the agent): the destination sees the real caller identity', async () => {
    const session = http2.connect(`http://127.0.0.1:${outboundPort}`);
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':path': '/', ':authority': 'payments.mesh' });
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      await once(stream, 'end');
      assert.equal(headers[':status'], 200);
      assert.equal((JSON.parse(body) as { caller: string }).caller, FRONTEND);
    } finally {
      session.close();
    }
  });

  it('gRPC unary and server streaming reach the other site with the caller identity', async () => {
    const client = new EchoClient(`127.0.0.1:${outboundPort}`, credentials.createInsecure(), { 'grpc.default_authority': 'echo.mesh' });
    try {
      const unary = await new Promise<EchoReply>((resolve, reject) =>
        client.makeUnaryRequest('/meridian.example.Echo/Echo', (v: unknown) => Buffer.from(JSON.stringify(v)), (b: Buffer) => JSON.parse(b.toString()) as EchoReply, { message: 'hi' }, (error, reply) => (error || reply === undefined ? reject(error ?? new Error('no reply')) : resolve(reply))),
      );
      assert.deepEqual(unary, { message: 'hi', service: 'echo', site: 'west', caller: FRONTEND });
      const stream = client.makeServerStreamRequest('/meridian.example.Echo/Count', (v: unknown) => Buffer.from(JSON.stringify(v)), (b: Buffer) => JSON.parse(b.toString()) as EchoReply, { message: 'n', count: 5 });
      const replies: EchoReply[] = [];
      for await (const reply of stream) replies.push(reply as EchoReply);
      assert.deepEqual(replies.map((r) => r.index), [0, 1, 2, 3, 4]);
      assert.ok(replies.every((r) => r.caller === FRONTEND && r.site === 'west'));
    } finally {
      client.close();
    }
  });

  it('raw TCP through an upstream port round-trips across sites', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: tcpUpstreamPort });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    const payload = Buffer.alloc(256 * 1024, 7);
    // Send everything and shut the sending side at once: the answer must still come back (half-close).
    socket.end(payload);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const received = Buffer.concat(chunks);
    assert.equal(received.length, payload.length);
    assert.equal(received.equals(payload), true);
  });

  it('a service the other site does not export is refused, with the reason', async () => {
    const response = await get('private.mesh');
    assert.equal(response.status, 503);
    assert.deepEqual(JSON.parse(response.body), {
      code: 'MERIDIAN_ERR_NO_HEALTHY_UPSTREAM',
      message: 'no usable instance of service "private": no instance in site east; no instance in region region-east; no instance in other regions (1 not exported by its site)',
    });
  });
});

describe('an agent inbound port reached directly, not through the gateways', () => {
  const direct = async (identity: MtlsIdentity, service: string): Promise<{ status: number; body: unknown }> => {
    const port = west.dataPlane?.inbound.port ?? assert.fail('west has no inbound');
    const { session } = await mtlsH2(port, identity, service);
    try {
      const reply = await h2(session, { ':authority': `${service}.mesh` });
      return { status: reply.status, body: reply.status === 200 ? undefined : bodyJson(reply) };
    } finally {
      session.close();
    }
  };
  const load = (kind: 'svc' | 'agent', name: string): MtlsIdentity => {
    const files = mesh.fed.pki.issueIdentity('east', kind, name);
    return loadMtlsIdentity({ keyFile: files.keyPath, certFile: files.certPath, bundleFile: mesh.fed.pki.bundlePath, trustDomain: 'acme.internal' });
  };

  it('refuses a workload of another site on a service its site does not export, as the gateway would', async () => {
    const rogue = load('svc', 'rogue-svc');
    assert.deepEqual(await direct(rogue, 'private'), {
      status: 403,
      body: {
        code: 'MERIDIAN_ERR_FORBIDDEN',
        message: 'spiffe://acme.internal/site/east/svc/rogue-svc may not call service "private": it is not exported to other sites (caller of site east, service of site west)',
      },
    });
    assert.deepEqual(await direct(rogue, 'payments'), { status: 200, body: undefined });
  });

  it('refuses an agent identity as a caller, even on an exported service', async () => {
    const agent = load('agent', 'east-9');
    const reply = await direct(agent, 'payments');
    assert.equal(reply.status, 403);
    assert.deepEqual(reply.body, {
      code: 'MERIDIAN_ERR_FORBIDDEN',
      message: 'spiffe://acme.internal/site/east/agent/east-9 may not call service "payments": agent identities are not workloads: only …/svc/<name> identities may call services',
    });
  });
});

describe('failover', () => {
  it('moves traffic to another site when every local instance dies under load', async () => {
    const [eastSpare, north] = await Promise.all([mesh.agent('east', 'east-2'), mesh.agent('north', 'north-1')]);
    const local = await startExampleHttpService({ service: 'orders', site: 'east' });
    const remote = await startExampleHttpService({ service: 'orders', site: 'north' });
    fileScope.after(() => remote.close());
    await eastSpare.registrar.register({ service: 'orders', ports: { http: local.port } }, { kind: 'api' });
    await north.registrar.register({ service: 'orders', ports: { http: remote.port }, export: true }, { kind: 'api' });
    await usableAt(east, 'orders', 'east');
    await usableAt(east, 'orders', 'north');

    const results: { at: number; status: number; site: string | undefined }[] = [];
    const TOTAL = 600;
    let crashedAt = 0;
    for (let i = 0; i < TOTAL; i++) {
      if (i === 200) {
        crashedAt = Date.now();
        // A node crash as the network sees it: no deregistration, listener gone, connections reset.
        await eastSpare.registrar.stop({ deregister: false });
        await eastSpare.dataPlane?.close(0);
        await local.close();
      }
      const at = Date.now();
      const response = await get('orders.mesh').catch(() => ({ status: 0, body: '' }));
      const site = response.status === 200 ? (JSON.parse(response.body) as { site: string }).site : undefined;
      results.push({ at, status: response.status, site });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const before = results.slice(0, 200);
    const after = results.slice(200);
    assert.ok(before.every((r) => r.status === 200 && r.site === 'east'), 'same site first while it is healthy');
    const failures = after.filter((r) => r.status !== 200);
    const firstRemote = after.find((r) => r.site === 'north');
    assert.ok(firstRemote !== undefined, 'traffic moved to north');
    const switchMs = firstRemote.at - crashedAt;
    const lastFailure = failures.at(-1);
    console.log(`failover: ${failures.length} of ${after.length} requests failed after the crash; first served by north ${switchMs} ms after it; last failure at +${lastFailure === undefined ? 0 : lastFailure.at - crashedAt} ms`);
    // Generous bounds (the goal is < 1 s; the log line above reports the measured switch): a loaded
    // CI machine must not turn this behaviour test into a timing test.
    assert.ok(switchMs < 5000, `switch took ${switchMs} ms`);
    assert.ok(failures.every((r) => r.at - crashedAt < 5000), 'errors only inside the switch window');
    assert.ok(after.slice(-100).every((r) => r.status === 200 && r.site === 'north'));
    const failovers = east.dataPlane?.failovers() ?? [];
    assert.ok(failovers.some((f) => f.service === 'orders' && f.fromSite === 'east' && f.toSite === 'north'), JSON.stringify(failovers));
  });
});

describe('an app that crashed behind its live agent', () => {
  it('is failed over at once: no request fails while another site has a usable instance', async () => {
    const north = await mesh.agent('north', 'north-2');
    const [local, remote] = await Promise.all([startHttpApp('stock-east', 'http'), startHttpApp('stock-north', 'http')]);
    fileScope.after(() => remote.kill());
    // No health check: the agent keeps the instance passing, only the data path can tell.
    await east.registrar.register({ service: 'stock', ports: { http: local.port } }, { kind: 'api' });
    await north.registrar.register({ service: 'stock', ports: { http: remote.port }, export: true }, { kind: 'api' });
    await usableAt(east, 'stock', 'east');
    await usableAt(east, 'stock', 'north');
    const servedBy = async (): Promise<string> => {
      const response = await get('stock.mesh');
      return response.status === 200 ? (JSON.parse(response.body) as Seen).app : `${response.status} ${response.body}`;
    };
    assert.equal(await servedBy(), 'stock-east');
    await local.kill();
    const after: string[] = [];
    // 80 requests over ~2.4 s: the dead instance's ejections (1 s, then 2 s) end and it is probed again in between.
    for (let i = 0; i < 80; i++) {
      after.push(await servedBy().catch((error: Error) => error.message));
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const failed = after.filter((app) => app !== 'stock-north');
    console.log(`app crash behind a live agent: ${failed.length} of ${after.length} requests failed`);
    assert.deepEqual(failed, []);
  });
});

describe('gateway restart', () => {
  it('a gateway restarted under load loses no request that had not been sent to it', async () => {
    const old = mesh.gateways.get('west') ?? assert.fail('no west gateway');
    const port = old.gateway.address.port;
    const results: { status: number; body: string; at: number }[] = [];
    let restartedAt = 0;
    let drainedAt = 0;
    const restart = async (): Promise<void> => {
      restartedAt = Date.now();
      const draining = old.stop(1000);
      await mesh.startGateway('west', port);
      await draining;
      drainedAt = Date.now();
    };
    let restarting: Promise<void> | undefined;
    // Bounded: at most 3000 requests, and it stops 1.5 s after the old gateway finished draining.
    const worker = async (): Promise<void> => {
      while (results.length < 3000 && (drainedAt === 0 || Date.now() - drainedAt < 1500)) {
        if (results.length === 150 && restarting === undefined) restarting = restart();
        const at = Date.now();
        results.push({ ...(await get('payments.mesh').catch((error: Error) => ({ status: 0, body: error.message }))), at });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await restarting;
    const failed = results.filter((r) => r.status !== 200);
    console.log(`gateway restart: ${failed.length} of ${results.length} requests failed (${failed.map((f) => `${f.status} at +${f.at - restartedAt} ms: ${f.body.slice(0, 120)}`).join('; ')})`);
    assert.deepEqual(failed, []);
    assert.ok(results.slice(-50).every((r) => r.status === 200));
    const fresh = mesh.gateways.get('west') ?? assert.fail('no new west gateway');
    assert.notEqual(fresh, old);
    assert.ok(fresh.gateway.stats().streams.total > 0, 'traffic moved to the restarted gateway');
  });
});
