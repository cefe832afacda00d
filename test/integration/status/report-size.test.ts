import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { RequestTelemetry, agentStatusCollector } from '../../../agent/telemetry/index.js';
import type { NodeContext } from '../../../shared/catalog/index.js';
import {
  MAX_REPORT_TRAFFIC_PAIRS,
  MAX_TRACKED_TRAFFIC_PAIRS,
  OTHER_PAIR,
  StatusBoard,
  TrafficMeter,
  ensureStatusBucket,
  fitReport,
  startStatusPublisher,
  type AgentStatus,
  type StatusPublisher,
} from '../../../shared/status/index.js';
import { startStatusApi } from '../../../services/status/api.js';
import { federationStatus } from '../../../services/status/aggregate.js';
import type { FederationStatus } from '../../../services/status/index.js';
import { eventually, fileScope, useNatsServer } from '../../support/harness.js';

/*
 * Status reports go into NATS KV, whose messages the server caps at its max_payload. An agent
 * that saw thousands of destinations used to build a report over that cap, and from then on every
 * report failed ("max_payload size exceeded") until a restart. Here the server's cap is small, so
 * the bound is reached with a few thousand pairs.
 */

const MAX_PAYLOAD = 32 * 1024;
const SITE = 'east';
const TOKEN = 'report-size-status-token';

let nc: NatsConnection;
let bucket: KV;

interface Warning {
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

function node(name: string): NodeContext {
  return { site: SITE, region: 'region-east', zone: 'east-a', platform: 'vm', node: name };
}

/** A publisher whose errors and warnings are kept for the assertions; stopped at the end of the file. */
function publish(collect: () => AgentStatus, errors: Error[], warnings: Warning[]): StatusPublisher {
  const publisher = startStatusPublisher({
    nc,
    site: SITE,
    collect,
    intervalMs: 150,
    onError: (error) => errors.push(error),
    log: { warn: (message, fields) => warnings.push({ message, fields }) },
  });
  fileScope.after(() => publisher.stop());
  return publisher;
}

/** The stored report of `key` once `ok` holds for it, with its size in bytes and revision. */
async function stored(key: string, ok: (record: AgentStatus) => boolean = () => true): Promise<{ record: AgentStatus; bytes: number; revision: number }> {
  return eventually(async () => {
    const entry = await bucket.get(key);
    assert.ok(entry !== null && entry.operation === 'PUT', `no report under ${key}`);
    const record = entry.json<AgentStatus>();
    assert.ok(ok(record), `the report under ${key} is not there yet`);
    return { record, bytes: entry.value.length, revision: entry.revision };
  });
}

before(async () => {
  const server = await useNatsServer({ extraConfig: `max_payload: ${MAX_PAYLOAD}` });
  nc = await connect({ servers: server.url });
  fileScope.after(() => nc.close());
  assert.equal(nc.info?.max_payload, MAX_PAYLOAD);
  bucket = await ensureStatusBucket(nc, SITE);
});

describe('status reports stay under the server max_payload', () => {
  it('an agent with thousands of traffic pairs keeps publishing: the busiest pairs, and how many were left out', async () => {
    const telemetry = new RequestTelemetry(SITE);
    const pairs = 5000;
    for (let i = 0; i < pairs; i++) {
      // The first 50 destinations are the busy ones: 20 calls each, the others one.
      const calls = i < 50 ? 20 : 1;
      for (let c = 0; c < calls; c++) {
        telemetry.observe({ direction: 'outbound', service: 'frontend', peerService: `svc-${i}`, peerSite: 'west', protocol: 'http', method: 'GET', path: '/', status: 200, durationMs: 1, traceparent: '', incomingTraceparent: '', startedAt: 0 });
      }
    }
    const collect = agentStatusCollector({ node: node('busy-1'), intervalMs: 150, agentCertificate: () => undefined, connected: () => true, services: () => ['frontend'], dataPlane: () => undefined, telemetry });
    const errors: Error[] = [];
    const warnings: Warning[] = [];
    publish(collect, errors, warnings);
    const first = await stored('agent.busy-1');
    assert.ok(first.bytes <= MAX_PAYLOAD, `${first.bytes} bytes`);
    const { traffic, omitted } = first.record;
    assert.equal(traffic.length, MAX_REPORT_TRAFFIC_PAIRS);
    assert.equal(omitted?.traffic, pairs - MAX_REPORT_TRAFFIC_PAIRS, 'the report says how many pairs it left out');
    const kept = new Set(traffic.map((e) => e.peerService));
    for (let i = 0; i < 50; i++) assert.ok(kept.has(`svc-${i}`), `busy pair svc-${i} kept`);
    // Reporting goes on: later reports are written too.
    await eventually(async () => assert.ok((await stored('agent.busy-1')).revision > first.revision));
    assert.deepEqual(errors.map((e) => e.message), []);
    assert.deepEqual(warnings, [], 'the section bound alone kept it under the limit');
  });

  it('a report still over the cap is trimmed with one clear warning, never dropped', async () => {
    // A node with thousands of registered services: no section bound applies, the size bound does.
    const services = Array.from({ length: 3000 }, (_, i) => `service-with-a-long-descriptive-name-${String(i).padStart(5, '0')}`);
    const telemetry = new RequestTelemetry(SITE);
    const collect = agentStatusCollector({ node: node('crowded-1'), intervalMs: 150, agentCertificate: () => undefined, connected: () => true, services: () => services, dataPlane: () => undefined, telemetry });
    const errors: Error[] = [];
    const warnings: Warning[] = [];
    publish(collect, errors, warnings);
    const { record, bytes, revision } = await stored('agent.crowded-1');
    assert.ok(bytes <= MAX_PAYLOAD, `${bytes} bytes`);
    assert.ok(record.services.length > 0);
    assert.equal((record.omitted?.services ?? 0) + record.services.length, services.length);
    assert.equal(record.name, 'crowded-1');
    assert.equal(record.natsConnected, true, 'the scalar fields are all there');
    await eventually(async () => assert.ok((await stored('agent.crowded-1')).revision >= revision + 3));
    assert.deepEqual(errors.map((e) => e.message), []);
    // One warning while the condition lasts, naming the report, its size and the server's limit.
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]?.message ?? '', /status report trimmed/);
    assert.equal(warnings[0]?.fields?.['key'], 'agent.crowded-1');
    assert.equal(warnings[0]?.fields?.['maxPayload'], MAX_PAYLOAD);
    assert.ok(Number(warnings[0]?.fields?.['bytes']) > MAX_PAYLOAD);
  });

  it('the status API shows which reports left entries out', async () => {
    const board = new StatusBoard(nc);
    board.start([SITE]);
    fileScope.after(() => Promise.resolve(board.close()));
    const status = (): FederationStatus => federationStatus({ site: SITE, entries: board.entries(), catalog: [], now: Date.now() });
    const api = await startStatusApi({ port: 0, access: { tokens: [TOKEN] }, status, version: 'test' });
    fileScope.after(() => api.close());
    const body = await eventually(async () => {
      const response = await fetch(`${api.url}/v1/status/problems`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(response.status, 200);
      const problems = (await response.json()) as FederationStatus['problems'];
      assert.equal(problems.filter((p) => /left out/.test(p.message)).length, 2, JSON.stringify(problems));
      return problems;
    });
    const messages = body.filter((p) => /left out/.test(p.message)).map((p) => `${p.severity} ${p.site} ${p.component}: ${p.message}`);
    assert.ok(messages.some((m) => /^warning east agent: agent busy-1: .*left out \d+ of 5000 traffic pairs/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /^warning east agent: agent crowded-1: .*left out \d+ of 3000 services/.test(m)), messages.join('\n'));
  });

  it("a meter tracks a bounded number of pairs; calls past it count in the caller's other pair", () => {
    const meter = new TrafficMeter();
    const extra = 500;
    for (let i = 0; i < MAX_TRACKED_TRAFFIC_PAIRS + extra; i++) {
      meter.record({ direction: 'outbound', service: 'frontend', peerService: `svc-${i}`, peerSite: 'west', status: i % 2 === 0 ? 200 : 503, protocol: 'http' });
    }
    const edges = meter.snapshot();
    assert.equal(edges.length, MAX_TRACKED_TRAFFIC_PAIRS + 1);
    const other = edges.find((e) => e.peerService === OTHER_PAIR);
    assert.deepEqual(other && [other.service, other.peerSite, other.requests, other.errors], ['frontend', OTHER_PAIR, extra, extra / 2]);
    assert.equal(edges.reduce((sum, e) => sum + e.requests, 0), MAX_TRACKED_TRAFFIC_PAIRS + extra, 'every call counted');
  });

  it('a report that cannot fit even with every list emptied is an error naming the limit, not a silent drop', () => {
    const services = Array.from({ length: 50 }, (_, i) => `service-${i}`);
    const collect = agentStatusCollector({ node: node('tiny-1'), intervalMs: 150, agentCertificate: () => undefined, connected: () => true, services: () => services, dataPlane: () => undefined, telemetry: new RequestTelemetry(SITE) });
    const record = collect();
    const bytes = Buffer.byteLength(JSON.stringify(record));
    assert.throws(() => fitReport(record, 100), {
      code: 'MERIDIAN_ERR_STATUS_REPORT_TOO_LARGE',
      message: `status report of agent tiny-1 does not fit in 100 bytes even with every list emptied (it is ${bytes} bytes); raise the NATS server's max_payload`,
    });
  });
});
