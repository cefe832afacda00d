import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { usableGateway } from '../../../shared/catalog/index.js';
import { LINK_GRACE_MS, type FederationStatus, type LinkRow } from '../../../services/status/index.js';
import { eventually } from '../../support/harness.js';
import { runCli } from '../../support/cli.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { getJson } from '../../support/status.js';

/*
 * Gateways dial and probe every other site's gateway from the start: a 3-site federation (real
 * NATS supercluster, control services, gateway processes in this process) that carries no
 * traffic at all still lists its 6 directed links, and a site whose gateway goes away shows as
 * down at the others, with the reason, until it comes back.
 */

const TOKEN = 'link-probes-token-0123456789';
const SITES = ['east', 'west', 'north'] as const;
const PAIRS = SITES.flatMap((from) => SITES.filter((to) => to !== from).map((to) => `${from} → ${to}`)).sort();
/** Bound for every pair to come up from the gateways' start: catalog propagation (~1 s) + a dial + a heartbeat. */
const ALL_UP_WITHIN_MS = 15_000;

let mesh: FederationMesh;
let tokenFile: string;
let meshStartedAt: number;
let northPort: number;

const pairOf = (l: LinkRow): string => `${l.fromSite} → ${l.toSite}`;

function apiOf(site: string): string {
  return mesh.controls.get(site)?.status.api?.url ?? assert.fail(`no status API at ${site}`);
}

async function statusAt(site: string): Promise<FederationStatus> {
  const response = await getJson(`${apiOf(site)}/v1/status`, { authorization: `Bearer ${TOKEN}` });
  assert.equal(response.status, 200);
  return response.body as FederationStatus;
}

/** Every directed pair listed once and up, as `site` answers. */
async function allUp(site: string): Promise<FederationStatus> {
  const status = await statusAt(site);
  assert.deepEqual(status.links.map(pairOf).sort(), PAIRS);
  assert.deepEqual(status.links.filter((l) => l.state !== 'up').map(pairOf), []);
  return status;
}

before(async () => {
  mesh = await startFederationMesh(SITES, { status: { interval: '300ms', api: { tokens: [TOKEN] } } });
  // startFederationMesh starts the gateways last: the bound runs from the moment they all run.
  meshStartedAt = Date.now();
  tokenFile = join(mesh.dir, 'status-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});

describe('gateways probe every remote site from the start', () => {
  it(`with no traffic, all 6 directed links come up within ${ALL_UP_WITHIN_MS / 1000} s, with heartbeats; meridian status exits 0`, async (t) => {
    const status = await eventually(() => allUp('east'), { timeoutMs: ALL_UP_WITHIN_MS });
    t.diagnostic(`all 6 links up in the status API ${Date.now() - meshStartedAt} ms after every gateway ran`);
    for (const link of status.links) {
      assert.equal(link.gateway, 'gw-1');
      assert.ok(typeof link.rttMs === 'number' && link.rttMs >= 0 && link.lastHeartbeat !== null, JSON.stringify(link));
      assert.deepEqual([link.streams, link.lastError], [0, null], 'probed, not carrying traffic');
    }
    assert.deepEqual(status.traffic, []);
    for (const site of SITES) {
      const running = mesh.gateways.get(site) ?? assert.fail(`no gateway at ${site}`);
      assert.deepEqual(running.gateway.links().map((l) => [l.site, l.state]).sort(), SITES.filter((s) => s !== site).map((s) => [s, 'up']).sort());
    }
    await eventually(async () => assert.ok((await statusAt('west')).healthy, JSON.stringify((await statusAt('west')).problems)), { timeoutMs: 10_000 });
    const cli = await runCli(['status', '--url', apiOf('west'), '--token-file', tokenFile]);
    assert.equal(cli.code, 0, cli.stderr);
    for (const pair of PAIRS) assert.match(cli.stdout, new RegExp(`^${pair}\\s+gw-1\\s+up\\s+\\d`, 'm'));
  });

  it("a site whose gateway stops: the others' links to it go down with the reason and stay listed; status fails past the grace period", async (t) => {
    const north = mesh.gateways.get('north') ?? assert.fail('no north gateway');
    northPort = north.gateway.address.port;
    const stoppedAt = Date.now();
    await north.stop(0);
    const down = await eventually(async () => {
      const s = await statusAt('east');
      const toNorth = s.links.filter((l) => l.toSite === 'north');
      assert.deepEqual(toNorth.map((l) => [l.fromSite, l.state]).sort(), [['east', 'down'], ['west', 'down']]);
      return toNorth;
    }, { timeoutMs: 10_000 });
    t.diagnostic(`links to north down ${Date.now() - stoppedAt} ms after its gateway stopped`);
    for (const link of down) assert.ok(link.lastError !== null && link.lastError !== '', JSON.stringify(link));

    const linkErrors = (s: FederationStatus): string[] => s.problems.filter((p) => p.component === 'link' && p.severity === 'error').map((p) => p.message);
    await eventually(async () => assert.equal(linkErrors(await statusAt('west')).length, 2), { timeoutMs: LINK_GRACE_MS + 10_000 });
    assert.ok(Date.now() - stoppedAt > LINK_GRACE_MS, 'a link down for less than the grace period does not fail the federation');

    // Its catalog entry leaves when its lease expires; the links stay, down, and say so at their next dial.
    const east = mesh.gateways.get('east') ?? assert.fail('no east gateway');
    await eventually(() => assert.equal(usableGateway(east.view, 'north'), undefined), { timeoutMs: 15_000 });
    const status = await eventually(async () => {
      const s = await statusAt('west');
      const reasons = linkErrors(s).map((m) => m.replace(/^link (\w+) → north \(gateway gw-1\) is down for \d+ s \(since [^)]+\): /, '$1: ')).sort();
      assert.deepEqual(reasons, ['east: no gateway address known for site north', 'west: no gateway address known for site north']);
      return s;
    }, { timeoutMs: 15_000 });
    assert.equal(status.healthy, false);
    const errors = status.problems.filter((p) => p.severity === 'error').map((p) => p.message);
    assert.ok(errors.some((m) => /^gateway gw-1 of site north is not reporting \(last report \d+ s ago\)$/.test(m)), errors.join('\n'));
    assert.deepEqual(status.links.map(pairOf).sort(), PAIRS, 'every pair still listed');
    assert.deepEqual(status.links.filter((l) => l.state !== 'up').map((l) => [pairOf(l), l.state]).sort(), [
      ['east → north', 'down'],
      ['north → east', 'unknown'],
      ['north → west', 'unknown'],
      ['west → north', 'down'],
    ]);
    const cli = await runCli(['status', '--url', apiOf('east'), '--token-file', tokenFile]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /^meridian: federation unhealthy: .*link east → north \(gateway gw-1\) is down for \d+ s/);
    assert.match(cli.stdout, /^east → north\s+gw-1\s+down\s/m);
  });

  it('its gateway back on the same port: every link up again and the federation healthy', async () => {
    await mesh.startGateway('north', northPort);
    await eventually(() => allUp('north'), { timeoutMs: ALL_UP_WITHIN_MS });
    await eventually(async () => assert.ok((await statusAt('east')).healthy, JSON.stringify((await statusAt('east')).problems)), { timeoutMs: 10_000 });
    const cli = await runCli(['status', '--url', apiOf('north'), '--token-file', tokenFile]);
    assert.equal(cli.code, 0, cli.stderr);
  });
});
