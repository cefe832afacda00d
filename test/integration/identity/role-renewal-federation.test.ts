import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { SHOP_HOSTS, startFederationMesh, startShop, watchNatsConnections, type FederationMesh, type MeshCaller } from '../../support/mesh/index.js';

// Every certificate of the federation (agents, gateways, control services, workloads) lives 5 s:
// over the run each is renewed many times while calls go on.
const TTL_MS = 5000;
const RUN_MS = 50_000;
const SITES = ['east', 'west', 'north'] as const;
let mesh: FederationMesh;
let agents: Map<string, RunningAgent>;
let caller: MeshCaller;

before(async () => {
  mesh = await startFederationMesh(SITES, { roleTtlMs: TTL_MS, workloadTtlMs: TTL_MS });
  ({ agents, caller } = await startShop(mesh));
});

it('a 3-site federation whose certificates live 5 s serves cross-site and same-site calls for a minute with 0 failures, every role renewing, NATS never dropped', async () => {
  const { connections, events } = watchNatsConnections(mesh, agents);
  const renewals = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const [node, agent] of agents) counts.set(`agent ${node}`, agent.credentials.renewal.renewals);
    for (const site of SITES) {
      counts.set(`gateway ${site}`, mesh.gateways.get(site)?.credentials.renewal.renewals ?? -1);
      counts.set(`control ${site}`, mesh.controls.get(site)?.renewal.renewals ?? -1);
    }
    return counts;
  };
  const before = renewals();
  // Bounded in time and count: three callers, one call each every ~20 ms, for RUN_MS.
  const traffic = caller.traffic(SHOP_HOSTS, { maxCalls: 20_000, maxMs: RUN_MS });
  await traffic.done;
  const { results } = traffic;
  const after = renewals();
  const failed = results.filter((r) => r.status !== 200);
  const done = [...after].map(([role, count]) => `${role}: ${count - (before.get(role) ?? 0)}`);
  console.log(`short-lived federation: ${results.length} calls in ${RUN_MS} ms, ${failed.length} failed; renewals during the run: ${done.join(', ')}`);
  assert.deepEqual(failed.slice(0, 5), []);
  for (const host of SHOP_HOSTS) assert.ok(results.filter((r) => r.host === host).length > 100, `${host} was called`);
  for (const [role, count] of after) assert.ok(count - (before.get(role) ?? 0) >= 8, `${role} renewed ${count - (before.get(role) ?? 0)} times during the run`);
  for (const [role, nc] of connections) {
    assert.equal(nc.isClosed(), false, `${role}: NATS connection closed`);
    assert.equal(role.startsWith('agent') ? agents.get(role.slice(6))?.nats() : nc, nc, `${role}: same NATS connection object`);
  }
  assert.deepEqual(events, [], 'no NATS disconnect or reconnect');
  // Every certificate in use now is a renewed one, valid now.
  for (const agent of agents.values()) assert.ok(Date.parse(agent.identity.current.chain[0]?.validTo ?? '') > Date.now());
});
