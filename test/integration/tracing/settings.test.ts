import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAgentConfig, tracingSettings } from '../../../agent/config.js';
import type { RequestRecord } from '../../../agent/proxy/index.js';
import { startTracing } from '../../../agent/tracing/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { useTempDir } from '../../support/harness.js';
import { quietLogger } from '../../support/mesh/index.js';
import { SPAN_KIND, startOtlpReceiver } from './otlp-receiver.js';

const BASE = {
  site: 'east',
  region: 'eu',
  zone: 'eu-1a',
  platform: 'vm',
  node: 'east-1',
  nats: { url: 'tls://127.0.0.1:4222', passwordFile: 'p', keyFile: 'k', certFile: 'c', bundleFile: 'b', trustDomain: 'acme.internal' },
};

function configFile(tracing: unknown): string {
  const path = join(useTempDir('meridian-tracing-'), 'agent.json');
  writeFileSync(path, JSON.stringify({ ...BASE, tracing }));
  return path;
}

function violations(path: string): string[] {
  try {
    loadAgentConfig(path);
  } catch (error) {
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID'));
    return [...new Set(((error).details?.['violations'] as { path: string }[]).map((v) => v.path))].sort();
  }
  return assert.fail('the config was accepted');
}

describe('the agent config `tracing` section', () => {
  it('fills the documented defaults', () => {
    const settings = tracingSettings(loadAgentConfig(configFile({ otlpEndpoint: 'http://127.0.0.1:4318/v1/traces' })));
    assert.deepEqual(settings, {
      otlpEndpoint: 'http://127.0.0.1:4318/v1/traces',
      protocol: 'http/protobuf',
      sampleRatio: 1,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMs: 5000,
      exportTimeoutMs: 10000,
    });
    assert.equal(tracingSettings(loadAgentConfig(configFile({ otlpEndpoint: 'http://c:4318/v1/traces', maxQueueSize: 100 })))?.maxExportBatchSize, 100, 'a small queue bounds the default batch');
    assert.equal(tracingSettings(loadAgentConfig(configFile({ otlpEndpoint: 'http://c:4318/v1/traces', protocol: 'http/json' })))?.protocol, 'http/json');
  });

  it('refuses bad values naming each field', () => {
    const bad = { otlpEndpoint: 'ftp://collector', protocol: 'grpc', sampleRatio: 1.5, maxQueueSize: 0, scheduledDelay: 'soon', extra: true };
    assert.deepEqual(violations(configFile(bad)), ['/tracing/extra', '/tracing/maxQueueSize', '/tracing/otlpEndpoint', '/tracing/protocol', '/tracing/sampleRatio', '/tracing/scheduledDelay']);
    assert.deepEqual(violations(configFile({ sampleRatio: 1 })), ['/tracing/otlpEndpoint']);
  });

  it('refuses a batch larger than the queue, naming both fields', () => {
    const config = loadAgentConfig(configFile({ otlpEndpoint: 'http://127.0.0.1:4318/v1/traces', maxQueueSize: 10, maxExportBatchSize: 11 }));
    assert.throws(() => tracingSettings(config), { code: 'MERIDIAN_ERR_CONFIG_INVALID', message: '/tracing/maxExportBatchSize (11) must not exceed /tracing/maxQueueSize (10)' });
  });
});

/** The two records of one call from east to west: the client's (the trace began at east) and the server's. */
function callRecords(i: number): [RequestRecord, RequestRecord] {
  const traceId = createHash('sha256').update(String(i)).digest('hex').slice(0, 32);
  const client = `00-${traceId}-${'1'.padStart(16, 'a')}-01`;
  const server = `00-${traceId}-${'2'.padStart(16, 'b')}-01`;
  const common = { protocol: 'http' as const, method: 'GET', path: '/', status: 200, durationMs: 2, startedAt: Date.now() };
  return [
    { ...common, direction: 'outbound', service: 'frontend', peerService: 'payments', peerSite: 'west', traceparent: client, incomingTraceparent: '' },
    { ...common, direction: 'inbound', service: 'payments', peerService: 'frontend', peerSite: 'east', traceparent: server, incomingTraceparent: client },
  ];
}

describe('sampling by ratio', () => {
  it('is the same decision at every agent of a trace: a trace has both its spans or none', async () => {
    const receiver = await startOtlpReceiver();
    const options = { otlpEndpoint: receiver.url, protocol: 'http/protobuf' as const, sampleRatio: 0.5, maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMs: 50, exportTimeoutMs: 5000 };
    const east = startTracing({ ...options, site: 'east', node: 'east-1', log: quietLogger('east') });
    const west = startTracing({ ...options, site: 'west', node: 'west-1', log: quietLogger('west') });
    const traces = 400;
    for (let i = 1; i <= traces; i++) {
      const [client, server] = callRecords(i);
      east.observe(client);
      west.observe(server);
    }
    await Promise.all([east.stop(), west.stop()]);
    const kinds = new Map<string, number[]>();
    for (const span of receiver.spans) kinds.set(span.traceId, [...(kinds.get(span.traceId) ?? []), span.kind]);
    for (const [traceId, found] of kinds) assert.deepEqual(found.sort(), [SPAN_KIND.SERVER, SPAN_KIND.CLIENT].sort(), traceId);
    assert.ok(kinds.size > traces * 0.3 && kinds.size < traces * 0.7, `${kinds.size} of ${traces} traces sampled at ratio 0.5`);
    assert.deepEqual(east.stats(), { exported: kinds.size, dropped: 0, failed: 0 });
  });
});
