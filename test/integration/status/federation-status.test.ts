import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { startExampleHttpService } from '../../../dev/examples/index.js';
import type { FederationStatus } from '../../../services/status/index.js';
import { freePort } from '../../support/servers/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { runCli } from '../../support/cli.js';
import { getJson, meshGet, statusValidator, type StatusValidator } from '../../support/status.js';

const TOKEN = 'test-status-token-0123456789';
const SITES = ['east', 'west', 'north'] as const;

let mesh: FederationMesh;
let east: RunningAgent;
let outboundPort: number;
let validate: StatusValidator;
let tokenFile: string;

function apiOf(site: string): string {
  const url = mesh.controls.get(site)?.status.api?.url;
  assert.ok(url !== undefined, `no status API at ${site}`);
  return url;
}

async function statusAt(site: string): Promise<FederationStatus> {
  const response = await getJson(`${apiOf(site)}/v1/status`, { authorization: `Bearer ${TOKEN}` });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  validate('/v1/status', response.body);
  return response.body as FederationStatus;
}

/** A federation where every reporter has reported, including the 6 calls east → west of before(), and the tunnel that carried them. */
const settled = (s: FederationStatus): boolean =>
  s.healthy &&
  s.sites.length === 3 &&
  s.sites.every((site) => site.reachable && site.agents.up === 1 && site.gateways.up === 1) &&
  // The tunnel's bytes and heartbeat come in the gateway's report, which may arrive after the agent's traffic report.
  s.links.some((l) => l.fromSite === 'east' && l.toSite === 'west' && l.bytesOut > 0 && l.bytesIn > 0 && l.lastHeartbeat !== null) &&
  s.traffic.some((t) => t.fromService === 'frontend' && t.toService === 'payments' && t.requests >= 6);

before(async () => {
  mesh = await startFederationMesh(SITES, { status: { interval: '300ms', api: { tokens: [TOKEN] } } });
  let west: RunningAgent;
  [east, west] = await Promise.all([mesh.agent('east', 'east-1'), mesh.agent('west', 'west-1'), mesh.agent('north', 'north-1')]);
  const payments = await startExampleHttpService({ service: 'payments', site: 'west' });
  const frontend = await startExampleHttpService({ service: 'frontend', site: 'east' });
  fileScope.after(() => payments.close());
  fileScope.after(() => frontend.close());
  outboundPort = await freePort();
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  await east.registrar.register({ service: 'frontend', ports: { http: frontend.port }, outbound: { http: outboundPort } }, { kind: 'api' });
  await eventually(async () => assert.equal((await meshGet(outboundPort, 'payments.mesh')).status, 200), { timeoutMs: 20_000 });
  for (let i = 0; i < 5; i++) assert.equal((await meshGet(outboundPort, 'payments.mesh')).status, 200);
  validate = await statusValidator(apiOf('east'));
  tokenFile = join(mesh.dir, 'status-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});

describe('federation status API', () => {
  it('every site answers for the whole federation: sites, agents, gateways, links with RTT, traffic', async () => {
    for (const site of SITES) {
      const status = await eventually(async () => {
        const s = await statusAt(site);
        assert.ok(settled(s), JSON.stringify(s.problems));
        return s;
      }, { timeoutMs: 20_000 });
      assert.equal(status.answeredBy, site);
      assert.deepEqual(status.sites.map((s) => [s.site, s.region, s.platform]), [['east', 'region-east', 'vm'], ['north', 'region-north', 'vm'], ['west', 'region-west', 'vm']]);
      const link = status.links.find((l) => l.fromSite === 'east' && l.toSite === 'west');
      assert.equal(link?.state, 'up');
      assert.ok(typeof link.rttMs === 'number' && link.rttMs >= 0, `rtt ${String(link.rttMs)}`);
      assert.ok(link.bytesOut > 0 && link.bytesIn > 0 && link.lastHeartbeat !== null);
      const edge = status.traffic.find((t) => t.fromService === 'frontend' && t.toService === 'payments');
      assert.deepEqual(edge && { from: edge.fromSite, to: edge.toSite, errors: edge.errors }, { from: 'east', to: 'west', errors: 0 });
      assert.ok((edge?.requests ?? 0) >= 6, `requests ${String(edge?.requests)}`);
    }
  });

  it('the catalog of every site, fresh, with its sync lag at each other site', async () => {
    const status = await eventually(async () => {
      const s = await statusAt('east');
      assert.ok(s.catalog.every((row) => row.syncLag.length === 2 && row.syncLag.every((l) => l.lagMs !== null)), JSON.stringify(s.catalog));
      return s;
    }, { timeoutMs: 20_000 });
    assert.deepEqual(status.catalog.map((c) => c.site), ['east', 'north', 'west']);
    for (const row of status.catalog) {
      assert.equal(row.stale, false);
      assert.deepEqual(row.syncLag.map((l) => l.observer).sort(), SITES.filter((s) => s !== row.site).sort());
      assert.ok(row.syncLag.every((l) => (l.lagMs ?? -1) >= 0 && (l.lagMs ?? Infinity) < 5_000 && !l.stale), JSON.stringify(row.syncLag));
    }
    const west = status.catalog.find((c) => c.site === 'west');
    // payments and the gateway's own entry.
    assert.deepEqual(west && [west.services, west.instances, west.passing], [2, 2, 2]);
  });

  it('certificates: the soonest expiry per site of its CA, gateway, agent and workloads; policy and rejections per site', async () => {
    const status = await statusAt('west');
    for (const site of SITES) {
      const roles = status.certificates.filter((c) => c.site === site);
      assert.deepEqual(roles.map((c) => c.role), ['agent', 'gateway', 'site-ca', 'workload']);
      for (const cert of roles) {
        assert.ok(cert.expiresInMs > 0 && cert.identity.startsWith(`spiffe://acme.internal/site/${site}`), JSON.stringify(cert));
      }
      assert.equal(roles.find((c) => c.role === 'site-ca')?.identity, `spiffe://acme.internal/site/${site}`);
    }
    // No policy set published: every reporter (agent, gateway, control) enforces none, nothing lags.
    const none = { versions: [{ version: null, reporters: 3 }], newest: null, onNewest: 'all', lagging: false, laggingForMs: null, rejections: [], permissiveServices: [], revocations: 0, refusedCalls: 0 };
    assert.deepEqual(status.policy, [...SITES].sort().map((site) => ({ site, ...none })));
  });

  it('each section alone, validated against the served OpenAPI document', async () => {
    for (const section of ['sites', 'links', 'catalog', 'policy', 'certificates', 'failovers', 'traffic', 'problems']) {
      const response = await getJson(`${apiOf('north')}/v1/status/${section}`, { authorization: `Bearer ${TOKEN}` });
      assert.equal(response.status, 200);
      validate(`/v1/status/${section}`, response.body);
      assert.ok(Array.isArray(response.body));
    }
    const unknown = await getJson(`${apiOf('north')}/v1/status/everything`, { authorization: `Bearer ${TOKEN}` });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as { code: string }).code, 'MERIDIAN_ERR_NOT_FOUND');
  });

  it('refuses reads without a valid token; the OpenAPI document and the dashboard page are public', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }]) {
      for (const path of ['/v1/status', '/v1/status/sites', '/metrics']) {
        const response = await getJson(`${apiOf('east')}${path}`, headers);
        assert.equal(response.status, 401, path);
        assert.equal((response.body as { code: string }).code, 'MERIDIAN_ERR_UNAUTHORIZED');
      }
    }
    assert.equal((await getJson(`${apiOf('east')}/openapi.json`, {})).status, 200);
    const page = await fetch(`${apiOf('east')}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(new URL(apiOf('east')).hostname === '127.0.0.1', 'bound to localhost by default');
  });

  it('serves Prometheus metrics of the control service behind the same token', async () => {
    const response = await fetch(`${apiOf('east')}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /^meridian_certificate_expiry_timestamp_seconds\{.*role="site-ca".*\} \d+/m);
    assert.match(text, /^meridian_catalog_instances\{.*remote_site="west".*\} 2$/m);
  });
});

describe('meridian status', () => {
  it('prints the summary and exits 0 while healthy; --json gives the document', async () => {
    const text = await runCli(['status', '--url', apiOf('east'), '--token-file', tokenFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^federation HEALTHY \(answered by east/);
    for (const site of SITES) assert.match(text.stdout, new RegExp(`^${site}\\s+region-${site}\\s+vm\\s+yes\\s+1/1\\s+1/1$`, 'm'));
    assert.match(text.stdout, /^east → west\s+gw-1\s+up\s+\d/m);
    const json = await runCli(['status', '--url', apiOf('west'), '--token-file', tokenFile, '--json']);
    assert.equal(json.code, 0, json.stderr);
    validate('/v1/status', JSON.parse(json.stdout));
  });

  it('fails with the exact error on a wrong token, an unreachable API (exit 3: could not ask) or a missing --url (exit 2)', async () => {
    const wrongFile = join(mesh.dir, 'wrong-token');
    writeFileSync(wrongFile, 'not-the-token-0123456789\n');
    const wrong = await runCli(['status', '--url', apiOf('east'), '--token-file', wrongFile]);
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /^meridian: MERIDIAN_ERR_UNAUTHORIZED: http:\/\/127\.0\.0\.1:\d+\/v1\/status answered 401/);
    const gone = await runCli(['status', '--url', `http://127.0.0.1:${await freePort()}`, '--token-file', tokenFile]);
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /^meridian: MERIDIAN_ERR_UNAVAILABLE: cannot reach the status API at http:\/\/127\.0\.0\.1:\d+\/v1\/status/);
    const usage = await runCli(['status', '--token-file', tokenFile], { MERIDIAN_STATUS_URL: '' });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--url \(or MERIDIAN_STATUS_URL\) is required/);
  });
});

describe('unhealthy federation', () => {
  it('a degraded failover is reported with its reason, and clears when the local instance recovers', async () => {
    const local = await startExampleHttpService({ service: 'payments', site: 'east' });
    fileScope.after(() => local.close());
    const registration = await east.registrar.register({ service: 'payments', ports: { http: local.port }, check: { type: 'ttl', ttl: '1s' } }, { kind: 'api' });
    // The TTL is passed while the test waits for the local instance, so a slow machine cannot let it lapse first.
    const servedByEast = async (): Promise<void> => {
      await eventually(async () => {
        await east.registrar.passTtl(registration.instanceId);
        assert.match((await meshGet(outboundPort, 'payments.mesh')).body, /"site":"east"/);
      }, { timeoutMs: 10_000, intervalMs: 200 });
    };
    await servedByEast();
    // The TTL lapses: the local instance turns critical and calls go to west.
    await eventually(async () => assert.match((await meshGet(outboundPort, 'payments.mesh')).body, /"site":"west"/), { timeoutMs: 10_000 });
    const status = await eventually(async () => {
      const s = await statusAt('north');
      assert.ok(s.failovers.some((f) => f.service === 'payments' && f.degraded), JSON.stringify(s.failovers));
      return s;
    }, { timeoutMs: 10_000 });
    const failover = status.failovers.find((f) => f.service === 'payments');
    assert.deepEqual(failover && [failover.fromSite, failover.toSite, failover.reason, failover.reportedBy], ['east', 'west', 'no usable instance in site east (1 critical); no instance in region region-east', ['east/east-1']]);
    assert.ok(status.problems.some((p) => p.severity === 'warning' && p.message.startsWith('service payments: calls from east are served by west')));
    assert.equal(status.healthy, true, 'a failover that serves is a warning, not an outage');
    // Healthy again, and kept so until the status has cleared the failover.
    const keepPassing = setInterval(() => void east.registrar.passTtl(registration.instanceId).catch(() => undefined), 250);
    try {
      await servedByEast();
      await eventually(async () => assert.deepEqual((await statusAt('north')).failovers.filter((f) => f.service === 'payments' && f.degraded), []), { timeoutMs: 10_000 });
    } finally {
      clearInterval(keepPassing);
    }
    await east.registrar.deregister(registration.instanceId);
  });

  it('a site whose only gateway stops reporting makes the federation unhealthy, naming it; `meridian status` exits 1', async () => {
    const gateway = mesh.gateways.get('north') ?? assert.fail('no north gateway');
    const port = gateway.gateway.address.port;
    await gateway.stop(0);
    const status = await eventually(async () => {
      const s = await statusAt('east');
      assert.equal(s.healthy, false);
      return s;
    }, { timeoutMs: 10_000 });
    assert.ok(status.problems.some((p) => p.severity === 'error' && /^gateway gw-1 of site north is not reporting \(last report \d+ s ago\)$/.test(p.message)), JSON.stringify(status.problems));
    const cli = await runCli(['status', '--url', apiOf('west'), '--token-file', tokenFile]);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /^federation UNHEALTHY/);
    assert.match(cli.stderr, /^meridian: federation unhealthy: .*gateway gw-1 of site north is not reporting/);
    await mesh.startGateway('north', port);
    await eventually(async () => assert.ok(settled(await statusAt('east'))), { timeoutMs: 15_000 });
  });

  it('a site cut off: unreachable and its catalog stale at the others, entries kept; healthy again once healed', async () => {
    await mesh.fed.nats.partition('north');
    try {
      const status = await eventually(async () => {
        const s = await statusAt('east');
        assert.ok(s.problems.some((p) => p.component === 'catalog' && p.site === 'north'), JSON.stringify(s.problems));
        return s;
      }, { timeoutMs: 20_000 });
      assert.equal(status.healthy, false);
      assert.equal(status.sites.find((s) => s.site === 'north')?.reachable, false);
      assert.ok(status.problems.some((p) => p.severity === 'error' && /^site north: its control service has not reported for \d+ s \(site down or cut off\)$/.test(p.message)));
      const north = status.catalog.find((c) => c.site === 'north');
      assert.equal(north?.stale, true);
      assert.ok((north?.instances ?? 0) > 0, 'a cut-off site keeps its entries');
    } finally {
      await mesh.fed.nats.heal('north');
    }
    await eventually(async () => assert.ok(settled(await statusAt('east'))), { timeoutMs: 30_000 });
  });
});
