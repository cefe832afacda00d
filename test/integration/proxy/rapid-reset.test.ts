import assert from 'node:assert/strict';
import http from 'node:http';
import { constants } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { h1, h2, h2c } from '../../support/clients.js';
import { waitUntil } from '../../support/harness.js';
import { startCaller, startNode, TestCatalog } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import { H2, h2Frame, hpackBlock, rawH2, type RawH2 } from '../../support/raw-http.js';

/** The attack's bounds: at most this many streams, for at most this long. */
const ATTACK_STREAMS = 5_000;
const ATTACK_MS = 10_000;
/** Streams (HEADERS + RST_STREAM pairs) per write, as a rapid-reset client pipelines them. */
const PER_WRITE = 20;
/**
 * The agent must stop this attacker within this many streams: its guard trips on the 101st
 * unanswered reset (measured: GOAWAY last stream id 201, i.e. stream 101); Node's own nghttp2
 * limit would only end the session after ~1 000, and with INTERNAL_ERROR.
 */
const GOAWAY_WITHIN_STREAMS = 150;
/** Reset streams that may still reach the app: the first ones, before the session looks suspect (measured: 0 or 1). */
const MAX_FORWARDED = 5;

/** Opens and at once resets up to ATTACK_STREAMS streams, until the agent sends GOAWAY or closes. */
async function rapidReset(attacker: RawH2): Promise<number> {
  const block = hpackBlock([
    [':path', '/attack'],
    [':authority', 'payments.mesh'],
  ]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
  const deadline = Date.now() + ATTACK_MS;
  let sent = 0;
  while (sent < ATTACK_STREAMS && Date.now() < deadline && attacker.state.goaway === undefined && !attacker.state.closed) {
    const frames: Buffer[] = [];
    for (let i = 0; i < PER_WRITE; i++, sent++) {
      const id = 2 * sent + 1;
      frames.push(h2Frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, id, block), h2Frame(H2.RST_STREAM, 0, id, cancel));
    }
    attacker.write(Buffer.concat(frames));
    await nextTurn();
  }
  return sent;
}

describe('HTTP/2 rapid reset against the outbound listener', () => {
  const pki = new TestTrustDomain();
  const catalog = new TestCatalog();
  let payments: TestApp;
  /** The same service at another site: where calls would fail over to, were the local instance ejected. */
  let paymentsUs: TestApp;
  let node: InboundProxy;
  let nodeUs: InboundProxy;
  let web: OutboundProxy;
  let port = 0;

  before(async () => {
    payments = await startHttpApp('payments', 'http');
    node = await startNode(pki, 'eu', { payments: { address: '127.0.0.1', port: payments.port, protocol: 'http' } });
    catalog.add({ service: 'payments', instanceId: 'payments-1', site: 'eu', meshPort: node.port });
    paymentsUs = await startHttpApp('payments-us', 'http');
    nodeUs = await startNode(pki, 'us', { payments: { address: '127.0.0.1', port: paymentsUs.port, protocol: 'http' } });
    catalog.add({ service: 'payments', instanceId: 'payments-us', site: 'us', meshPort: nodeUs.port });
    web = await startCaller(pki, catalog, { site: 'eu', service: 'web' });
    port = web.httpPort ?? 0;
  });
  after(async () => {
    await web.close(500);
    await node.close(500);
    await nodeUs.close(500);
    await payments.kill();
    await paymentsUs.kill();
  });

  it('GOAWAY(ENHANCE_YOUR_CALM) early, reset streams not forwarded, and another client keeps getting 200s', async () => {
    const normal = await h2c(port);
    const statuses: number[] = [];
    let attacking = true;
    const steady = (async () => {
      while (attacking) {
        statuses.push((await h2(normal, { ':authority': 'payments.mesh', ':path': '/steady' })).status);
        await sleep(5);
      }
      for (let i = 0; i < 10; i++) statuses.push((await h2(normal, { ':authority': 'payments.mesh', ':path': '/after' })).status);
    })();
    const attacker = await rawH2(port);
    let sent = 0;
    try {
      sent = await rapidReset(attacker);
      await sleep(300);
    } finally {
      attacking = false;
    }
    const closed = attacker.state.closed;
    attacker.close();
    await steady;
    normal.close();

    const goaway = attacker.state.goaway;
    assert.ok(goaway !== undefined, `no GOAWAY after ${sent} reset streams`);
    assert.equal(goaway.code, constants.NGHTTP2_ENHANCE_YOUR_CALM, `GOAWAY code ${goaway.code}`);
    assert.ok(goaway.lastStreamId < 2 * GOAWAY_WITHIN_STREAMS, `GOAWAY only after stream ${goaway.lastStreamId} (${sent} sent)`);
    assert.equal(attacker.state.responses.size, 0, 'no reset stream was answered');
    assert.ok(closed, 'the agent closed the attacker\'s connection');
    const steadyHits = statuses.filter((status) => status === 200).length;
    assert.ok(payments.hits - steadyHits <= MAX_FORWARDED, `${payments.hits - steadyHits} reset streams reached the app`);
    assert.ok(statuses.length > 10);
    assert.deepEqual(
      statuses.filter((status) => status !== 200),
      [],
      'the other client got only 200s',
    );
  });

  it('requests their client cancels in flight are not held against the instance: no ejection, no failover, on HTTP/2 and HTTP/1.1', async () => {
    // Five 5xx in a row eject an instance (and calls fail over to site us): six cancellations each way would, were they counted as resets.
    const session = await h2c(port);
    const heldAnywhere = (): number => payments.held + paymentsUs.held;
    const held = heldAnywhere();
    const streams = Array.from({ length: 6 }, () => {
      const stream = session.request({ ':method': 'GET', ':path': '/hold', ':authority': 'payments.mesh' });
      stream.on('error', () => undefined);
      stream.end();
      return stream;
    });
    await waitUntil(() => heldAnywhere() >= held + 6, 'six held HTTP/2 requests');
    for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
    const requests = Array.from({ length: 6 }, () => {
      const request = http.request({ host: '127.0.0.1', port, path: '/hold', headers: { host: 'payments.mesh' }, agent: false });
      request.on('error', () => undefined);
      request.end();
      return request;
    });
    await waitUntil(() => heldAnywhere() >= held + 12, 'six held HTTP/1.1 requests');
    for (const request of requests) request.destroy();
    await sleep(200);
    payments.release();
    paymentsUs.release();
    const viaH2 = await h2(session, { ':authority': 'payments.mesh' });
    const viaH1 = await h1(port, { host: 'payments.mesh' });
    session.close();
    assert.deepEqual([viaH2.status, viaH2.headers['x-app'], viaH1.status, viaH1.headers['x-app']], [200, 'payments', 200, 'payments']);
    assert.deepEqual(web.failovers(), []);
    assert.equal(paymentsUs.hits, 0, 'nothing failed over to site us');
  });
});
