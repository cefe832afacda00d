import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { startDnsServer, type DnsServer } from '../../../agent/dns/index.js';
import { fileScope } from '../../support/harness.js';
import { quietLogger } from '../../support/mesh/index.js';
import { SeededCatalog, zoneOf } from '../../unit/agent/dns/support.js';
import { dig } from './support.js';

const TCP_TIMEOUT_MS = 600;
const MAX_TCP = 6;
let catalog: SeededCatalog;
let server: DnsServer;

async function startServer(options: { maxQueriesPerSecond: number }): Promise<DnsServer> {
  const started = await startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zone: zoneOf(catalog, { ttl: 7 }),
    maxQueriesPerSecond: options.maxQueriesPerSecond,
    maxTcpConnections: MAX_TCP,
    tcpTimeoutMs: TCP_TIMEOUT_MS,
    log: quietLogger('dns'),
  });
  fileScope.after(() => started.close());
  return started;
}

before(async () => {
  catalog = new SeededCatalog();
  catalog.add(
    { service: 'payments', instanceId: 'p1', site: 'east', address: '10.0.0.1', port: 8080 },
    { service: 'payments', instanceId: 'p2', site: 'east', address: '10.0.0.2', port: 8081 },
    { service: 'payments', instanceId: 'w1', site: 'west', address: '10.1.0.1', port: 9090 },
    { service: 'ledger', instanceId: 'l1', site: 'east', address: '10.0.0.9', port: 7000, health: 'critical' },
  );
  for (let i = 0; i < 100; i++) catalog.add({ service: 'big', instanceId: `b${i}`, site: 'east', address: `10.2.0.${i + 1}`, port: 6000 });
  server = await startServer({ maxQueriesPerSecond: 100_000 });
});

function resolver(port: number): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

function udpQuery(port: number, message: Buffer, waitMs = 500): Promise<Buffer | undefined> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (reply: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    socket.on('message', (reply) => finish(reply));
    socket.send(message, port, '127.0.0.1');
  });
}

function aQuery(name: string, id = 99): Buffer {
  return dnsPacket.encode({ type: 'query', id, questions: [{ name, type: 'A', class: 'IN' }] });
}

function tcpConnect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  return once(socket, 'connect').then(() => socket);
}

function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

describe('agent DNS over UDP and TCP, with dig and Node resolver', () => {
  it('dig: A records of usable instances, authoritative, with the configured TTL; case and trailing dot ignored', async () => {
    const result = await dig(server.port, ['PayMents.Service.Consul.', 'A']);
    assert.equal(result.status, 'NOERROR');
    assert.ok(result.flags.includes('aa'), result.output);
    assert.deepEqual([...result.answers].sort(), ['PayMents.Service.Consul. 7 IN A 10.0.0.1', 'PayMents.Service.Consul. 7 IN A 10.0.0.2']);
    const west = await dig(server.port, ['payments.service.west.consul']);
    assert.deepEqual(west.answers, ['payments.service.west.consul. 7 IN A 10.1.0.1']);
    assert.deepEqual((await dig(server.port, ['payments.mesh'])).answers, ['payments.mesh. 7 IN A 127.0.0.1']);
  });

  it('dig: SRV with the instance ports; NXDOMAIN for unknown names, NOERROR with no answer for a service with no usable instance', async () => {
    const srv = await dig(server.port, ['payments.service.consul', 'SRV']);
    assert.deepEqual([...srv.answers].sort(), ['payments.service.consul. 7 IN SRV 1 100 8080 0a000001.addr.east.consul.', 'payments.service.consul. 7 IN SRV 1 100 8081 0a000002.addr.east.consul.']);
    assert.match(srv.output, /0a000001\.addr\.east\.consul\.\s+7\s+IN\s+A\s+10\.0\.0\.1/);
    const missing = await dig(server.port, ['nosuch.service.consul']);
    assert.equal(missing.status, 'NXDOMAIN');
    assert.match(missing.output, /AUTHORITY SECTION:\nconsul\.\s+7\s+IN\s+SOA/);
    const empty = await dig(server.port, ['ledger.service.consul']);
    assert.equal(empty.status, 'NOERROR');
    assert.deepEqual(empty.answers, []);
  });

  it('dig: a large answer is truncated over UDP (TC) and dig gets it whole over TCP; +tcp answers directly', async () => {
    const truncated = await dig(server.port, ['+ignore', '+noedns', 'big.service.consul']);
    assert.ok(truncated.flags.includes('tc'), truncated.output);
    assert.ok(truncated.answers.length > 0 && truncated.answers.length < 100, String(truncated.answers.length));
    const retried = await dig(server.port, ['big.service.consul']);
    assert.match(retried.output, /Truncated, retrying in TCP mode/);
    assert.equal(retried.answers.length, 100);
    const tcp = await dig(server.port, ['+tcp', 'big.service.consul']);
    assert.equal(tcp.answers.length, 100);
    assert.ok(!tcp.flags.includes('tc'));
  });

  it('dig: ANY gets the addresses only; TXT and an unknown type get NOERROR, empty; class CH and foreign names are REFUSED', async () => {
    const any = await dig(server.port, ['payments.service.consul', 'ANY']);
    assert.deepEqual(any.answers.map((line) => line.split(' ')[3]), ['A', 'A']);
    assert.equal((await dig(server.port, ['payments.service.consul', 'TXT'])).status, 'NOERROR');
    const unknown = await dig(server.port, ['payments.service.consul', 'TYPE65280']);
    assert.equal(unknown.status, 'NOERROR');
    assert.deepEqual(unknown.answers, []);
    assert.equal((await dig(server.port, ['-c', 'CH', 'version.bind', 'TXT'])).status, 'REFUSED');
    assert.equal((await dig(server.port, ['www.example.com'])).status, 'REFUSED');
  });

  it('Node resolver: resolve4, resolveSrv, ENOTFOUND for NXDOMAIN, ENODATA for an empty answer, 100 records through its TCP fallback', async () => {
    const r = resolver(server.port);
    assert.deepEqual((await r.resolve4('payments.service.consul')).sort(), ['10.0.0.1', '10.0.0.2']);
    const srv = await r.resolveSrv('_payments._tcp.service.west.consul');
    assert.deepEqual(srv, [{ name: '0a010001.addr.west.consul', port: 9090, priority: 1, weight: 100 }]);
    await assert.rejects(r.resolve4('nosuch.service.consul'), { code: 'ENOTFOUND' });
    await assert.rejects(r.resolve4('ledger.service.consul'), { code: 'ENODATA' });
    assert.equal((await r.resolve4('big.service.consul')).length, 100);
  });

  it('malformed UDP datagrams: garbage gets FORMERR, a response packet gets nothing, and the server answers on', async () => {
    const garbage = Buffer.concat([aQuery('payments.mesh', 1234).subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    const reply = await udpQuery(server.port, garbage);
    assert.equal(reply?.readUInt16BE(0), 1234);
    assert.equal((reply?.readUInt16BE(2) ?? 0) & 0xf, 1, 'FORMERR');
    const response = Buffer.from(aQuery('payments.mesh'));
    response.writeUInt16BE(response.readUInt16BE(2) | 0x8000, 2);
    assert.equal(await udpQuery(server.port, response, 300), undefined);
    assert.equal(await udpQuery(server.port, Buffer.alloc(5), 300), undefined);
    assert.deepEqual(await resolver(server.port).resolve4('payments.mesh'), ['127.0.0.1']);
  });

  it('TCP: pipelined queries are answered in order on one connection', async () => {
    const socket = await tcpConnect(server.port);
    socket.write(Buffer.concat([framed(aQuery('payments.mesh', 1)), framed(aQuery('nosuch.mesh', 2))]));
    let data = Buffer.alloc(0);
    while (data.length < 4 || data.length < 2 + data.readUInt16BE(0) + 2 + data.readUInt16BE(2 + data.readUInt16BE(0))) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      data = Buffer.concat([data, chunk]);
    }
    const first = dnsPacket.streamDecode(data);
    const second = dnsPacket.streamDecode(data.subarray(2 + data.readUInt16BE(0)));
    assert.deepEqual([first.id, second.id], [1, 2]);
    assert.equal(first.answers?.length, 1);
    socket.destroy();
  });

  it('TCP: a length over the query limit closes the connection at once; idle and dribbling clients are cut at the timeout', async () => {
    const oversize = await tcpConnect(server.port);
    oversize.write(Buffer.from([0xff, 0xff, 0, 0]));
    await once(oversize, 'close');
    const idle = await tcpConnect(server.port);
    const idleStart = performance.now();
    await once(idle, 'close');
    assert.ok(performance.now() - idleStart < TCP_TIMEOUT_MS * 3, 'idle connection closed');
    // One byte every 100 ms keeps the socket active, but the query never completes within the timeout.
    const slow = await tcpConnect(server.port);
    const message = framed(aQuery('payments.mesh'));
    const slowStart = performance.now();
    let closed = false;
    slow.once('close', () => (closed = true));
    for (let i = 0; i < message.length - 1 && !closed; i++) {
      slow.write(message.subarray(i, i + 1));
      await sleep(100);
    }
    assert.ok(closed, 'the dribbling client was cut');
    assert.ok(performance.now() - slowStart < TCP_TIMEOUT_MS + 1500, `${performance.now() - slowStart} ms`);
  });

  it(`TCP: past ${MAX_TCP} connections new ones are closed; answers resume once they go`, async () => {
    const held = await Promise.all(Array.from({ length: MAX_TCP }, () => tcpConnect(server.port)));
    const extra = net.connect(server.port, '127.0.0.1');
    extra.on('error', () => undefined);
    await once(extra, 'close');
    for (const socket of held) socket.destroy();
    await sleep(50);
    assert.equal((await dig(server.port, ['+tcp', 'payments.mesh'])).answers.length, 1);
  });

  it('a UDP flood is bounded by maxQueriesPerSecond: the excess is dropped unanswered, then service resumes', async () => {
    const limited = await startServer({ maxQueriesPerSecond: 50 });
    const socket = dgram.createSocket('udp4');
    let replies = 0;
    socket.on('message', () => replies++);
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const query = aQuery('payments.service.consul');
    // 1000 queries in 20 bursts over ~200 ms: the kernel's receive buffer drops some, the limit the rest.
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 50; i++) socket.send(query, limited.port, '127.0.0.1');
      await sleep(10);
    }
    await sleep(300);
    socket.close();
    const stats = limited.stats();
    assert.ok(replies <= 70 && stats.answered <= 70, `${replies} replies to 1000 queries (${JSON.stringify(stats)})`);
    assert.ok(stats.limited >= 300, JSON.stringify(stats));
    await sleep(1000);
    assert.deepEqual((await resolver(limited.port).resolve4('payments.service.consul')).sort(), ['10.0.0.1', '10.0.0.2']);
  });
});
