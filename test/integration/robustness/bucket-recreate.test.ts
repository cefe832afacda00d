/**
 * A site's buckets deleted under a running site (a wiped JetStream store): the control service
 * recreates them, agents and gateways say what is missing (not "jetstream is not enabled"), and
 * everything they hold is back in the catalog without a restart.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { startAgent, type RunningAgent } from '../../../agent/index.js';
import { startGatewayProcess } from '../../../gateway/index.js';
import { startControlService } from '../../../services/site/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { captureLogger, useSecureSite, type LogLine, type SecureSite } from '../../support/secure-site.js';
import { agentAuthorization } from '../../support/agent-process.js';

/** The control service looks for its buckets every heartbeat; agents and gateways write every 500 ms, so they see the gap. */
const CONTROL_HEARTBEAT_MS = 2_000;

let site: SecureSite;
let agent: RunningAgent;
let jsm: JetStreamManager;
let kvm: Kvm;
const logs = { control: captureLogger(), agent: captureLogger(), gateway: captureLogger() };

before(async () => {
  site = await useSecureSite();
  const control = await startControlService({
    pki: site.pki,
    site: site.site,
    natsUrl: site.nats.url,
    heartbeatMs: CONTROL_HEARTBEAT_MS,
    status: { intervalMs: 500 },
    log: logs.control.log,
  });
  fileScope.after(() => control.stop());
  agent = await startAgent(site.agentConfig('node-1', { telemetry: { statusInterval: '500ms' } }), logs.agent.log);
  fileScope.after(() => agent.stop());
  const gateway = await startGatewayProcess(site.gatewayConfig('gw-1', { statusInterval: '500ms' }), logs.gateway.log);
  fileScope.after(() => gateway.stop(500));
  await agent.registrar.register({ service: 'payments', instanceId: 'payments-1', ports: { http: 8080 } }, { kind: 'api' });
  const admin = await site.admin();
  jsm = await jetstreamManager(admin);
  kvm = new Kvm(admin);
});

async function value(kv: KV, key: string): Promise<unknown> {
  const entry = await kv.get(key);
  assert.ok(entry !== null && entry.operation === 'PUT', `${key} not in the bucket`);
  return entry.json();
}

const said = (lines: LogLine[], text: string): boolean => lines.some((l) => JSON.stringify(l).includes(text));

describe('deleted site buckets', () => {
  it('are recreated by the control service, and every entry and report comes back', async () => {
    const catalog = await kvm.open('catalog-solo');
    const status = await kvm.open('status-solo');
    await eventually(() => value(catalog, 'svc.payments.payments-1'));
    await eventually(() => value(catalog, 'svc.meridian-gateway.solo-gw-1'));
    await jsm.streams.delete('KV_catalog-solo');
    await jsm.streams.delete('KV_status-solo');
    const deletedAt = Date.now();

    await eventually(() => jsm.streams.info('KV_catalog-solo'), { timeoutMs: 2 * CONTROL_HEARTBEAT_MS + 3_000, intervalMs: 50 });
    const recreatedMs = Date.now() - deletedAt;
    await eventually(() => jsm.streams.info('KV_status-solo'), { timeoutMs: 2 * CONTROL_HEARTBEAT_MS + 3_000, intervalMs: 50 });
    assert.ok(recreatedMs <= 2 * CONTROL_HEARTBEAT_MS + 3_000, `recreated after ${recreatedMs} ms`);

    // The writers rewrite what they hold on their next heartbeat.
    const back = await eventually(() => value(catalog, 'svc.payments.payments-1'), { timeoutMs: 5_000 });
    assert.equal((back as { instanceId: string }).instanceId, 'payments-1');
    await eventually(() => value(catalog, 'svc.meridian-gateway.solo-gw-1'), { timeoutMs: 5_000 });
    await eventually(() => value(status, 'agent.node-1'), { timeoutMs: 5_000 });
    await eventually(() => value(status, 'gateway.gw-1'), { timeoutMs: 5_000 });
    const restoredMs = Date.now() - deletedAt;

    // The agent's own view follows the new bucket: its instance is served fresh again.
    await eventually(
      async () => {
        const rows = ((await (await fetch(`${agent.api.url}/v1/instances?service=payments`, { headers: agentAuthorization(agent) })).json()) as { instances: { stale: boolean }[] }).instances;
        assert.deepEqual(rows.map((r) => r.stale), [false]);
      },
      { timeoutMs: 10_000 },
    );
    process.stderr.write(`# buckets recreated after ${recreatedMs} ms, every entry back after ${restoredMs} ms\n`);

    assert.ok(said(logs.control.lines, 'bucket is missing: recreating it'), logs.control.text());
    for (const [role, capture] of [['agent', logs.agent], ['gateway', logs.gateway]] as const) {
      assert.ok(said(capture.lines, "bucket catalog-solo is missing (the site's control service recreates it)"), `${role}:\n${capture.text()}`);
      assert.ok(!said(capture.lines, 'jetstream is not enabled'), `${role}:\n${capture.text()}`);
    }
  });
});
