import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { federationStatus, renderFederationStatus, type FederationStatus, type Problem } from '../../../../services/status/index.js';
import type { BoardEntry, CatalogSiteStatus, LinkStatusRecord, StatusRecord } from '../../../../shared/status/index.js';

/*
 * Status documents built from constructed board entries (what the control service follows in
 * every site's status bucket), aggregated and judged by the real rules.
 */

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const INTERVAL_MS = 2_000;
const iso = (agoMs: number): string => new Date(NOW - agoMs).toISOString();

/** A record as the board holds it, `ageMs` after it arrived live. */
function entry(record: StatusRecord, ageMs = 0): BoardEntry {
  return { key: `${record.kind}.${record.name}`, record: { ...record, at: iso(ageMs) }, receivedAt: NOW - ageMs, live: true };
}

const base = (site: string, startedAgoMs = 600_000) => ({
  site,
  region: `region-${site}`,
  platform: 'vm',
  at: '',
  startedAt: iso(startedAgoMs),
  intervalMs: INTERVAL_MS,
  certificates: [],
  policyVersion: null,
  policyRejected: null,
});

const control = (site: string, ageMs = 0): BoardEntry => entry({ ...base(site), kind: 'control', name: site, catalog: [], policyLatest: null, policyPermissive: [], policyRevocations: 0 }, ageMs);

const agent = (site: string, name: string, ageMs = 0): BoardEntry =>
  entry({ ...base(site), kind: 'agent', name, natsConnected: true, services: [], traffic: [], failovers: [], rejections: 0 }, ageMs);

function gateway(site: string, name: string, links: readonly LinkStatusRecord[], options: { ageMs?: number; startedAgoMs?: number } = {}): BoardEntry {
  return entry({ ...base(site, options.startedAgoMs), kind: 'gateway', name, links, rejections: 0, streamsActive: 0 }, options.ageMs);
}

function link(peerSite: string, state: LinkStatusRecord['state'] = 'up', options: { sinceAgoMs?: number; lastError?: string } = {}): LinkStatusRecord {
  const up = state === 'up';
  return {
    peerSite,
    state,
    since: iso(options.sinceAgoMs ?? 300_000),
    lastHeartbeat: up ? iso(1_000) : null,
    rttMs: up ? 0.4 : null,
    streams: 0,
    bytesIn: 0,
    bytesOut: 0,
    lastError: options.lastError ?? null,
  };
}

const catalogRow = (site: string): CatalogSiteStatus => ({ site, services: 1, instances: 1, passing: 1, ageMs: 100, stale: false, syncLagMs: 5 });

function statusAt(site: string, entries: readonly BoardEntry[], catalog: readonly CatalogSiteStatus[] = []): FederationStatus {
  return federationStatus({ site, entries, catalog, now: NOW });
}

const messages = (problems: readonly Problem[], severity: Problem['severity']): string[] => problems.filter((p) => p.severity === severity).map((p) => p.message);

/** east and west, each with its control service and one gateway, the tunnels both ways up. */
const healthyPair = (): BoardEntry[] => [control('east'), gateway('east', 'gw-1', [link('west')]), control('west'), gateway('west', 'gw-1', [link('east')])];

describe('status health: sites and their gateways', () => {
  it('two sites whose gateways report and whose tunnels are up are healthy, with nothing to say', () => {
    const status = statusAt('east', healthyPair());
    assert.deepEqual(status.problems, []);
    assert.equal(status.healthy, true);
    assert.deepEqual(status.sites.map((s) => [s.site, s.reachable, s.gateways]), [['east', true, { up: 1, total: 1 }], ['west', true, { up: 1, total: 1 }]]);
  });

  it('a site whose reporters include no gateway fails: "site west has no east-west gateway" (not healthy with gateways up 0/0)', () => {
    const status = statusAt('east', [control('east'), gateway('east', 'gw-1', []), control('west'), agent('west', 'west-1')]);
    assert.equal(status.healthy, false);
    assert.deepEqual(status.sites.find((s) => s.site === 'west')?.gateways, { up: 0, total: 0 });
    assert.deepEqual(status.problems.filter((p) => p.component === 'gateway'), [{ severity: 'error', site: 'west', component: 'gateway', message: 'site west has no east-west gateway' }]);
    assert.match(renderFederationStatus(status, NOW), /^ {2}ERROR {3}site west has no east-west gateway$/m);
  });

  it('a site nobody reported for at all is not said to lack a gateway: its control service never reported', () => {
    const status = statusAt('east', [control('east'), gateway('east', 'gw-1', [])], [catalogRow('east'), catalogRow('west')]);
    assert.deepEqual(messages(status.problems, 'error'), ['site west: its control service has never reported']);
  });

  it('the only gateway of a site that stopped reporting fails as "not reporting", never as "no gateway is running"', () => {
    const entries = [control('east'), gateway('east', 'gw-1', [link('west')]), control('west'), gateway('west', 'gw-1', [link('east')], { ageMs: 20_000 })];
    const status = statusAt('east', entries);
    assert.equal(status.healthy, false);
    // Its tunnels read 'unknown' (their reporter is silent): the gateway's own problem says why, once.
    assert.deepEqual(status.links.map((l) => [l.fromSite, l.toSite, l.state]), [['east', 'west', 'up'], ['west', 'east', 'unknown']]);
    assert.deepEqual(status.problems, [{ severity: 'error', site: 'west', component: 'gateway', message: 'gateway gw-1 of site west is not reporting (last report 20 s ago)' }]);
  });

  it('a gateway that stopped reporting is a warning while another gateway of its site reports', () => {
    const entries = [...healthyPair(), gateway('west', 'gw-2', [link('east')], { ageMs: 20_000 })];
    const status = statusAt('east', entries);
    assert.equal(status.healthy, true);
    assert.deepEqual(status.problems, [{ severity: 'warning', site: 'west', component: 'gateway', message: 'gateway gw-2 of site west is not reporting (last report 20 s ago)' }]);
    assert.deepEqual(status.sites.find((s) => s.site === 'west')?.gateways, { up: 1, total: 2 });
  });
});

describe('status health: the answering control service', () => {
  it('counts itself as reporting at its own site, even when its own report is old (NATS stopped there)', () => {
    const entries = [control('east', 60_000), gateway('east', 'gw-1', [link('west')]), control('west', 60_000), gateway('west', 'gw-1', [link('east')])];
    const status = statusAt('east', entries);
    assert.deepEqual(status.sites.map((s) => [s.site, s.reachable]), [['east', true], ['west', false]]);
    assert.deepEqual(messages(status.problems, 'error'), ['site west: its control service has not reported for 60 s (site down or cut off)']);
  });

  it('counts itself as reporting before its first report arrived', () => {
    const status = statusAt('east', [gateway('east', 'gw-1', [link('west')]), control('west'), gateway('west', 'gw-1', [link('east')])]);
    assert.deepEqual(status.sites.map((s) => [s.site, s.reachable]), [['east', true], ['west', true]]);
    assert.deepEqual(status.problems, []);
  });
});

describe('status health: gateway links', () => {
  it('a tunnel down past the grace period fails, naming the pair, how long and why', () => {
    const entries = [control('east'), gateway('east', 'gw-1', [link('west', 'down', { sinceAgoMs: 60_000, lastError: 'connect ECONNREFUSED 127.0.0.1:1' })]), control('west'), gateway('west', 'gw-1', [link('east')])];
    const status = statusAt('east', entries);
    assert.equal(status.healthy, false);
    assert.deepEqual(status.problems, [
      { severity: 'error', site: 'east', component: 'link', message: `link east → west (gateway gw-1) is down for 60 s (since ${iso(60_000)}): connect ECONNREFUSED 127.0.0.1:1` },
    ]);
  });

  it('a tunnel not up for less than the grace period (a peer restarting, a first dial) is a warning only', () => {
    const entries = [control('east'), gateway('east', 'gw-1', [link('west', 'connecting', { sinceAgoMs: 1_000 })]), control('west'), gateway('west', 'gw-1', [link('east', 'down', { sinceAgoMs: 2_000, lastError: 'session closed' })])];
    const status = statusAt('east', entries);
    assert.equal(status.healthy, true);
    assert.deepEqual(messages(status.problems, 'warning'), [
      `link east → west (gateway gw-1) is connecting for 1 s (since ${iso(1_000)})`,
      `link west → east (gateway gw-1) is down for 2 s (since ${iso(2_000)}): session closed`,
    ]);
  });

  it('a tunnel down while another gateway of the site reaches the same site is a warning, not an error', () => {
    const entries = [...healthyPair(), gateway('east', 'gw-2', [link('west', 'down', { sinceAgoMs: 60_000, lastError: 'handshake timed out' })])];
    const status = statusAt('east', entries);
    assert.equal(status.healthy, true);
    assert.deepEqual(messages(status.problems, 'warning'), [`link east → west (gateway gw-2) is down for 60 s (since ${iso(60_000)}): handshake timed out`]);
  });

  it('a pair of sites no gateway has dialled fails once both gateways run past the grace period', () => {
    const entries = [control('east'), gateway('east', 'gw-1', [], { startedAgoMs: 60_000 }), control('west'), gateway('west', 'gw-1', [link('east')], { startedAgoMs: 60_000 })];
    const status = statusAt('east', entries);
    assert.equal(status.healthy, false);
    assert.deepEqual(status.problems, [{ severity: 'error', site: 'east', component: 'link', message: 'link east → west is missing: gateway gw-1 of site east has no tunnel to site west' }]);
  });

  it('a pair not dialled yet because a gateway just started is not a problem', () => {
    const entries = [control('east'), gateway('east', 'gw-1', [], { startedAgoMs: 60_000 }), control('west'), gateway('west', 'gw-1', [], { startedAgoMs: 1_000 })];
    assert.deepEqual(statusAt('east', entries).problems, []);
  });

  it('lists every pair in the summary, and says why when there is none', () => {
    assert.match(renderFederationStatus(statusAt('east', healthyPair()), NOW), /^east → west\s+gw-1\s+up\s+0\.4 ms/m);
    assert.match(renderFederationStatus(statusAt('east', [control('east'), gateway('east', 'gw-1', [])]), NOW), /^gateway links\n\(none: no gateway has another site's gateway to dial\)$/m);
  });
});
