/**
 * Issue #12 acceptance, distribution through a real 3-site mesh (the shop of test/support/mesh:
 * shop at east-1 calling orders in west, stock in north and cart in east): `meridian policy
 * apply` while traffic flows fails no allowed call; an invalid set is refused whole with every
 * violation and nothing changes anywhere; a site cut off (its NATS gateway links) during an apply
 * keeps enforcing its version, catches up within seconds of the heal, and the status of a
 * reachable site shows the lag meanwhile.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import type { RunningAgent } from '../../../agent/index.js';
import type { PolicyRow } from '../../../services/status/index.js';
import { POLICY_STREAM, policyMirrorName, readLatestPolicy } from '../../../shared/policy/distribution/index.js';
import { eventually, useTempDir } from '../../support/harness.js';
import { SHOP_HOSTS, startFederationMesh, startShop, type FederationMesh, type MeshCaller } from '../../support/mesh/index.js';
import { codeOf, enforced, everywhere, meridianAt, printedVersion, writeSet } from './mesh-support.js';

const TD = 'spiffe://acme.internal';
const SHOP = `${TD}/site/east/svc/shop`;

let mesh: FederationMesh;
let agents: Map<string, RunningAgent>;
let caller: MeshCaller;
let work: string;
let sets = 0;

/**
 * A set allowing shop everywhere (default deny), different for each apply (a deny rule on a path
 * nobody calls), and optionally denying shop on `denyShopOn`.
 */
function shopSet(denyShopOn?: string): string {
  sets += 1;
  const deny = denyShopOn === undefined ? '' : `---\nkind: Authorization\nmetadata: {name: no-shop}\nspec: {action: deny, service: ${denyShopOn}, rules: [{from: ['${SHOP}']}]}\n`;
  const text = `kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: deny}
---
kind: Authorization
metadata: {name: shop-calls}
spec: {action: allow, service: '*', rules: [{from: ['${SHOP}']}]}
---
kind: Authorization
metadata: {name: guard}
spec: {action: deny, service: '*', rules: [{from: ['${TD}/**'], to: [{paths: [{prefix: /never-${sets}}]}]}]}
${deny}`;
  return writeSet(work, `set-${sets}`, { 'shop.yaml': text });
}

/** `meridian policy apply -f <dir>` from `site`; resolves to the new version. */
async function apply(site: string, dir: string): Promise<number> {
  const applied = await meridianAt(mesh, site, 'policy', 'apply', '-f', dir);
  assert.equal(applied.code, 0, applied.stderr);
  return printedVersion(applied.stdout);
}

async function latest(site: string): Promise<number | undefined> {
  const control = mesh.controls.get(site) ?? assert.fail(site);
  return (await readLatestPolicy(control.nc))?.version;
}

/** The policy row of `site` in the federation status of `from`'s control service. */
function policyRow(from: string, site: string): PolicyRow {
  const control = mesh.controls.get(from) ?? assert.fail(from);
  return control.status.status().policy.find((row) => row.site === site) ?? assert.fail(`no policy row for ${site}`);
}

describe('policy distribution through a real 3-site mesh', () => {
  before(async () => {
    mesh = await startFederationMesh(['east', 'west', 'north'], { status: { interval: '500ms' } });
    ({ agents, caller } = await startShop(mesh));
    work = useTempDir('meridian-mesh-policy-');
  });

  it('applies from every site while traffic flows: 0 failed allowed calls', async () => {
    const traffic = caller.traffic(SHOP_HOSTS, { maxCalls: 3000, maxMs: 40_000 });
    let version = 0;
    // From none (allow all) to default deny with shop allowed, then three more versions, each from another site.
    for (const site of ['east', 'west', 'north', 'east']) {
      version = await apply(site, shopSet());
      await everywhere(mesh, agents, version);
    }
    await traffic.stop();
    const failed = traffic.results.filter((r) => r.status !== 200);
    assert.ok(traffic.results.length >= 30, `only ${traffic.results.length} calls`);
    assert.deepEqual(failed, [], `${failed.length} of ${traffic.results.length} allowed calls failed`);
    assert.equal(version, 4);
    console.log(`policy applied 4 times while ${traffic.results.length} calls flowed to ${SHOP_HOSTS.join(', ')}: 0 failed`);
  });

  it('an invalid set is refused whole with every violation printed; the running version is unchanged everywhere', async () => {
    const before = await latest('east');
    assert.ok(before !== undefined);
    const bad = writeSet(work, 'bad', {
      'bad.yaml': `kind: Authorization
metadata: {name: broken}
spec:
  action: maybe
  service: orders
  colour: blue
  rules:
    - from: [spiffe://evil.example/site/east/svc/shop]
---
kind: Authorization
metadata: {name: shop-calls}
spec: {action: deny, service: '*', rules: [{from: ['${SHOP}']}]}
`,
    });
    const refused = await meridianAt(mesh, 'west', 'policy', 'apply', '-f', bad);
    assert.equal(refused.code, 1, refused.stdout);
    const lines = refused.stderr.trim().split('\n');
    assert.match(lines[0] ?? '', /^meridian: policy set invalid: \d+ violations; nothing applied$|^policy set invalid: \d+ violations; nothing applied$/);
    const count = Number(/(\d+) violations/.exec(lines[0] ?? '')?.[1]);
    assert.ok(count >= 3, refused.stderr);
    assert.equal(lines.length, count + 1, refused.stderr);
    assert.match(refused.stderr, /bad\.yaml#0 \/spec\/action: /);
    assert.match(refused.stderr, /bad\.yaml#0 \/spec.*colour/);
    assert.match(refused.stderr, /bad\.yaml#0 \/spec\/rules\/0\/from\/0: .*evil\.example/);
    assert.equal(await latest('east'), before);
    // Nothing moved: every process still enforces the version it had, and shop is still allowed everywhere.
    const now = enforced(mesh, agents);
    assert.deepEqual(now, Object.fromEntries(Object.keys(now).map((k) => [k, before])));
    for (const host of SHOP_HOSTS) assert.equal((await caller.call(host)).status, 200, host);
  });

  it('a site cut off during an apply keeps enforcing its version, the status shows its lag, and it catches up within seconds of the heal', async () => {
    const control = mesh.controls.get('east') ?? assert.fail('east');
    // The origin stream lives where the bootstrap race put it: cut another site that serves a shop host.
    const origin = (await (await jetstreamManager(control.nc)).streams.info(POLICY_STREAM)).cluster?.name;
    const cut = origin === 'north' ? 'west' : 'north';
    const host = cut === 'west' ? 'orders.mesh' : 'stock.mesh';
    const old = await latest('east');
    assert.ok(old !== undefined);
    await mesh.fed.nats.partition(cut);
    const next = await apply('east', shopSet(host.replace('.mesh', '')));
    const reachable = ['east', 'west', 'north'].filter((s) => s !== cut);
    await everywhere(mesh, agents, next, reachable);
    // The data plane does not need NATS: shop still reaches the cut site through the gateways,
    // and that site's agent still enforces the old version, which allows shop.
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(Object.values(enforced(mesh, agents, [cut])).filter((v) => v !== old), [], `site ${cut} moved while cut off`);
      const call = await caller.call(host);
      assert.equal(call.status, 200, `call ${i} to ${host} while ${cut} is cut off: ${call.body}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A reachable site's status shows the cut-off site lagging the newest version.
    const lagging = await eventually(
      () => {
        const row = policyRow('east', cut);
        assert.deepEqual([row.newest, row.lagging, row.onNewest], [next, true, 'none'], JSON.stringify(row));
        assert.ok((row.laggingForMs ?? 0) >= 1000, JSON.stringify(row));
        return row;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    assert.ok(lagging.versions.every((v) => v.version === old), JSON.stringify(lagging.versions));
    assert.equal(policyRow('east', 'east').lagging, false);
    const healStarted = performance.now();
    await mesh.fed.nats.heal(cut);
    const healed = performance.now();
    // When the site's mirror holds the version (NATS re-establishing the mirror), beside when every process enforces it.
    const cutControl = mesh.controls.get(cut) ?? assert.fail(cut);
    const jsm = await jetstreamManager(cutControl.nc);
    const mirrored = eventually(
      async () => {
        assert.equal((await jsm.streams.info(policyMirrorName(cut))).state.last_seq, next);
        return performance.now() - healed;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    await everywhere(mesh, agents, next, [cut]);
    const caughtUp = performance.now() - healed;
    console.log(
      `site ${cut} caught up with version ${next} ${caughtUp.toFixed(0)} ms after heal() returned (${(healed - healStarted).toFixed(0)} ms in heal); its mirror held it after ${(await mirrored).toFixed(0)} ms`,
    );
    assert.ok(caughtUp < 10_000, `caught up ${caughtUp.toFixed(0)} ms after the heal`);
    // Now the cut site's agent enforces the new version: shop is denied there.
    const denied = await eventually(async () => {
      const call = await caller.call(host);
      assert.equal(call.status, 403, call.body);
      return call;
    });
    assert.equal(codeOf(denied.body), 'MERIDIAN_ERR_POLICY_DENIED');
    assert.match(denied.body, new RegExp(`rule no-shop/rules/0, policy version ${next}`));
    await eventually(() => assert.equal(policyRow('east', cut).lagging, false), { timeoutMs: 15_000, intervalMs: 200 });
  });
});
