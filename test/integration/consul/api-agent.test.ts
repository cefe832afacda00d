/**
 * The Consul-compatible API of a real `meridian agent run` process in a two-site federation:
 * opt-in through `consulApi`, a service registered through it is a Meridian service the other
 * site sees, and the other site's services are served under its site as datacenter.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { eventually } from '../../support/harness.js';
import { freePort } from '../../support/servers/index.js';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';

let fed: SecureFederation;
let east: AgentProcess;
let west: AgentProcess;
let consulUrl: string;
let token: string;

before(async () => {
  fed = await startSecureFederation(['east', 'west']);
  const port = await freePort();
  consulUrl = `http://127.0.0.1:${port}`;
  east = await startAgentProcess(fed, 'east', 'east-1', { config: { consulApi: { port } } });
  west = await startAgentProcess(fed, 'west', 'west-1');
  token = readFileSync(east.tokenFile, 'utf8').trim();
});

const consul = (path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> =>
  fetch(`${consulUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'x-consul-token': token },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(10_000),
  });

describe('Consul-compatible API on a running agent', () => {
  it('serves the other site as a datacenter, and registers a Meridian service the other site sees', async () => {
    const registered = await west.request('/v1/services', { method: 'POST', body: { service: 'ledger', instanceId: 'ledger-w1', ports: { http: 7100 }, check: { type: 'ttl', ttl: '1m' } } });
    assert.equal(registered.status, 201, await registered.text());
    await eventually(async () => assert.deepEqual(await (await consul('/v1/catalog/datacenters')).json(), ['east', 'west']), { timeoutMs: 20_000 });
    const ledger = await eventually(async () => {
      const rows = (await (await consul('/v1/catalog/service/ledger?dc=west')).json()) as { Datacenter: string; Node: string; ServiceID: string }[];
      return rows[0] ?? assert.fail('ledger not yet served');
    }, { timeoutMs: 20_000 });
    assert.deepEqual([ledger.Datacenter, ledger.Node, ledger.ServiceID], ['west', 'west-1', 'ledger-w1']);

    const put = await consul('/v1/agent/service/register', { method: 'PUT', body: { Name: 'billing', ID: 'billing-e1', Port: 7200, Check: { TTL: '1m' } } });
    assert.equal(put.status, 200, await put.text());
    assert.equal((await consul('/v1/agent/check/pass/service:billing-e1', { method: 'PUT' })).status, 200);
    // West's own agent API sees it as any Meridian instance of site east.
    const seen = await eventually(async () => {
      const body = (await west.get('/v1/instances?service=billing')) as { instances: { site: string; node: string; health: string }[] };
      const row = body.instances[0];
      return row?.health === 'passing' ? row : assert.fail(`billing not yet passing at west: ${JSON.stringify(body)}`);
    }, { timeoutMs: 20_000 });
    assert.deepEqual([seen.site, seen.node], ['east', 'east-1']);
    // And east's own agent API lists it among its registrations, removable there too.
    const local = (await east.get('/v1/local')) as { registrations: { instance: { instanceId: string }; source: { kind: string } }[] };
    assert.deepEqual(local.registrations.map((r) => [r.instance.instanceId, r.source.kind]), [['billing-e1', 'api']]);
    assert.equal((await consul('/v1/agent/service/deregister/billing-e1', { method: 'PUT' })).status, 200);
    await eventually(async () => assert.deepEqual(((await west.get('/v1/instances?service=billing')) as { instances: unknown[] }).instances, []), { timeoutMs: 20_000 });
  });
});
