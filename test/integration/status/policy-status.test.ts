import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { agentStatusCollector, RequestTelemetry } from '../../../agent/telemetry/index.js';
import { startGateway, staticResolver } from '../../../gateway/index.js';
import { gatewayStatusCollector } from '../../../gateway/status-report.js';
import { startFederationStatus, type FederationStatus, type FederationStatusService, type PolicyRow } from '../../../services/status/index.js';
import { FederatedView, ensureSiteBucket } from '../../../shared/catalog/index.js';
import { LivePolicy, enforcedPolicy, parsePolicySet, type PolicyReport } from '../../../shared/policy/index.js';
import { startStatusPublisher, type PolicyLatest, type PolicyRejection } from '../../../shared/status/index.js';
import { jsonLogger } from '../../../shared/telemetry/index.js';
import { runCli } from '../../support/cli.js';
import { eventually, fileScope, useNatsServer } from '../../support/harness.js';
import { TestTrustDomain } from '../../support/pki/index.js';

/*
 * Policy acknowledgements end to end: a real site (nats-server, the control service's status side
 * with its API, a real gateway and two agents' status collectors publishing their records) whose
 * processes each hold a LivePolicy, replaced here as a policy follower would on a new version.
 * The status API shows the versions they enforce and the lag; the built `meridian status` fails
 * on a lag past --policy-lag and on a refused version.
 */

const TOKEN = 'policy-status-token-0123456789';
const SITE = 'a';
const INTERVAL_MS = 200;
const TD = 'acme.internal';
const quiet = jsonLogger('test', () => undefined);

/** One reporting process: the policy it enforces, and the version it refused (as a follower reports it). */
interface Reporter {
  readonly live: LivePolicy;
  rejected: PolicyRejection | null;
  report(): PolicyReport;
}

function reporter(): Reporter {
  const state: Reporter = {
    live: new LivePolicy(),
    rejected: null,
    report: () => ({ version: state.live.current.version, rejected: state.rejected }),
  };
  return state;
}

const control = reporter();
const gatewayPolicy = reporter();
const agents = [reporter(), reporter()] as const;
let latest: PolicyLatest | null = null;
let service: FederationStatusService;
let nc: NatsConnection;
let url: string;
let tokenFile: string;

const V1 = `kind: Authorization
metadata: { name: payments }
spec: { service: payments, action: allow, rules: [{ from: [spiffe://acme.internal/site/a/svc/frontend] }] }
`;
const V2_EXTRA = `kind: PolicyDefaults
metadata: { name: federation }
spec: { defaultAction: deny, mtls: { services: { legacy: permissive } } }
---
kind: Revocation
metadata: { name: meridian-revocations }
spec:
  entries:
    - { identity: spiffe://acme.internal/site/a/svc/stolen, notAfter: 2099-01-01T00:00:00Z }
`;

/** What applying version `version` does at the site: the mirror holds it (control's policyLatest), applied now. */
function publish(version: number, text: string): ReturnType<typeof enforcedPolicy> {
  latest = { version, appliedAt: new Date().toISOString() };
  return enforcedPolicy(parsePolicySet([{ file: `v${version}.yaml`, text }], { trustDomain: TD }), version);
}

async function statusNow(): Promise<FederationStatus> {
  const response = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as FederationStatus;
}

async function policyRow(): Promise<PolicyRow> {
  return (await statusNow()).policy.find((p) => p.site === SITE) ?? assert.fail('no policy row');
}

const cli = (args: readonly string[]) => runCli(['status', '--url', url, '--token-file', tokenFile, ...args], { MERIDIAN_STATUS_URL: '', MERIDIAN_STATUS_TOKEN: '' });

function startReporters(): void {
  const node = { site: SITE, region: 'region-a', zone: 'zone-1', platform: 'vm' as const };
  agents.forEach((agent, i) => {
    const collect = agentStatusCollector({
      node: { ...node, node: `node-${i + 1}` },
      intervalMs: INTERVAL_MS,
      agentCertificate: () => undefined,
      connected: () => true,
      services: () => [],
      dataPlane: () => undefined,
      telemetry: new RequestTelemetry(SITE),
      policy: () => agent.report(),
    });
    const publisher = startStatusPublisher({ nc, site: SITE, intervalMs: INTERVAL_MS, collect, log: quiet });
    fileScope.after(() => publisher.stop());
  });
}

before(async () => {
  const nats = await useNatsServer();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  fileScope.after(() => nc.drain());
  await ensureSiteBucket(nc, SITE);
  const view = new FederatedView({ sites: [SITE], staleAfterMs: 600_000 });
  view.connect(nc);
  fileScope.after(() => Promise.resolve(view.close()));
  await view.ready(10_000);
  service = await startFederationStatus({
    nc,
    site: SITE,
    region: 'region-a',
    platform: 'vm',
    view,
    certificates: () => [],
    intervalMs: INTERVAL_MS,
    api: { port: 0, access: { tokens: [TOKEN] } },
    version: 'test',
    log: quiet,
    policy: () => control.report(),
    livePolicy: control.live,
    policyLatest: () => latest,
  });
  fileScope.after(() => service.stop());
  url = service.api?.url ?? assert.fail('no status API');
  const gateway = await startGateway({ identity: new TestTrustDomain().identity(SITE, 'gateway', 'gw-a'), resolver: staticResolver({ instances: [], gateways: {} }), logger: quiet });
  fileScope.after(() => gateway.close());
  const collect = gatewayStatusCollector({ gateway, name: 'gw-a', region: 'region-a', platform: 'vm', intervalMs: INTERVAL_MS, certificate: () => undefined, policy: () => gatewayPolicy.report() });
  const publisher = startStatusPublisher({ nc, site: SITE, intervalMs: INTERVAL_MS, collect, log: quiet });
  fileScope.after(() => publisher.stop());
  startReporters();
  const dir = mkdtempSync(join(tmpdir(), 'meridian-policy-status-'));
  fileScope.after(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  await eventually(async () => assert.deepEqual((await statusNow()).sites.map((s) => [s.agents.total, s.gateways.up]), [[2, 1]]), { timeoutMs: 10_000 });
});

describe('policy acknowledgements in the status', () => {
  it('before any set is published: every reporter on none; after version 1 reaches all of them: all on 1, healthy, version in the metrics', async () => {
    const none = await policyRow();
    assert.deepEqual([none.versions, none.newest, none.onNewest, none.lagging], [[{ version: null, reporters: 4 }], null, 'all', false]);
    const v1 = publish(1, V1);
    for (const process of [control, gatewayPolicy, ...agents]) assert.equal(process.live.replace(v1), true);
    const row = await eventually(async () => {
      const r = await policyRow();
      assert.deepEqual([r.versions, r.onNewest], [[{ version: 1, reporters: 4 }], 'all']);
      return r;
    }, { timeoutMs: 5_000 });
    assert.deepEqual([row.newest, row.lagging, row.laggingForMs, row.rejections, row.permissiveServices, row.revocations], [1, false, null, [], [], 0]);
    const ok = await cli(['--policy-lag', '1s']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^policy \(newest version: 1\)$/m);
    assert.match(ok.stdout, /^a\s+1 \(4\)\s+all\s+-\s+-\s+-\s+0\s+0$/m);
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assert.match(metrics, /^meridian_policy_version\{[^}]*\} 1$/m);
    assert.match(metrics, /^meridian_policy_rejections_total\{[^}]*\} 0$/m);
  });

  it('an agent still on version 1 after version 2: the site lags "some"; `meridian status --policy-lag 1s` fails naming site, version and duration; 30 s default passes', async () => {
    const v2 = publish(2, `${V1}---\n${V2_EXTRA}`);
    for (const process of [control, gatewayPolicy, agents[0]]) assert.equal(process.live.replace(v2), true);
    const lagging = await eventually(async () => {
      const r = await policyRow();
      assert.deepEqual([r.versions, r.onNewest, r.lagging], [[{ version: 2, reporters: 3 }, { version: 1, reporters: 1 }], 'some', true]);
      assert.ok((r.laggingForMs ?? 0) > 1_000, `lagging for ${String(r.laggingForMs)} ms`);
      return r;
    }, { timeoutMs: 5_000, intervalMs: 200 });
    assert.deepEqual([lagging.newest, lagging.permissiveServices, lagging.revocations], [2, ['legacy'], 1]);
    const failed = await cli(['--policy-lag', '1s']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /^meridian: federation unhealthy: site a lags policy version 2 for \d+ s \(3 of 4 reporters enforce it\)\n$/);
    assert.match(failed.stdout, /^a\s+2 \(3\), 1 \(1\)\s+some\s+LAGGING \d+ s\s+-\s+legacy\s+1\s+0$/m);
    // Within the default 30 s bound: a lag is no failure yet; permissive mTLS is a warning.
    const lenient = await cli([]);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stdout, /^ {2}warning site a: mTLS is permissive \(plaintext callers accepted\) for legacy$/m);
    const usage = await cli(['--policy-lag', 'soon']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^meridian: MERIDIAN_ERR_BAD_ARGUMENT: --policy-lag: "soon" is not a duration/);

    assert.equal(agents[1].live.replace(v2), true);
    await eventually(async () => assert.equal((await policyRow()).onNewest, 'all'), { timeoutMs: 5_000 });
    const caughtUp = await cli(['--policy-lag', '1s']);
    assert.equal(caughtUp.code, 0, caughtUp.stderr);
  });

  it('a version refused by an agent and the control service is shown with its reason and fails `meridian status`; the refusal is counted in metrics', async () => {
    const reason = 'v3.yaml#0 /spec/entries/0/notAfter: expected a date-time';
    latest = { version: 3, appliedAt: new Date().toISOString() };
    agents[0].rejected = { version: 3, reason };
    control.rejected = { version: 3, reason };
    const row = await eventually(async () => {
      const r = await policyRow();
      assert.equal(r.rejections[0]?.reporters.length, 2, JSON.stringify(r.rejections));
      return r;
    }, { timeoutMs: 5_000 });
    assert.deepEqual(row.rejections, [{ version: 3, reason, reporters: ['agent/node-1', 'control/a'] }]);
    assert.deepEqual([row.newest, row.versions], [3, [{ version: 2, reporters: 4 }]]);
    const failed = await cli([]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(failed.stderr, `meridian: federation unhealthy: site a: policy version 3 refused by agent/node-1, control/a: ${reason}\n`);
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assert.match(metrics, /^meridian_policy_version\{[^}]*\} 2$/m);
    assert.match(metrics, /^meridian_policy_rejections_total\{[^}]*\} 1$/m);
  });
});
