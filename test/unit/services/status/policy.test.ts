import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { federationStatus, renderFederationStatus, type FederationStatus, type PolicyRow } from '../../../../services/status/index.js';
import { enforcedPolicy, NO_POLICY, parsePolicySet } from '../../../../shared/policy/index.js';
import { permissiveServices, type BoardEntry, type PolicyLatest, type PolicyRejection, type StatusRecord } from '../../../../shared/status/index.js';

/*
 * The policy section and its problems from constructed board entries (the records agents,
 * gateways and control services write into their site's status bucket), aggregated by the real
 * rules: versions with reporter counts against the federation's newest, the lag since the newest
 * version was applied and its bound, refused versions, permissive mTLS, revocations in force.
 */

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const INTERVAL_MS = 2_000;
const iso = (agoMs: number): string => new Date(NOW - agoMs).toISOString();

interface Reported {
  readonly version?: number | null;
  readonly rejected?: PolicyRejection | null;
  /** Since the record arrived; past 3 intervals the reporter is down. */
  readonly ageMs?: number;
}

function entry(record: StatusRecord, ageMs = 0): BoardEntry {
  return { key: `${record.kind}.${record.name}`, record: { ...record, at: iso(ageMs) }, receivedAt: NOW - ageMs, live: true };
}

const base = (site: string, reported: Reported) => ({
  site,
  region: `region-${site}`,
  platform: 'vm',
  at: '',
  startedAt: iso(600_000),
  intervalMs: INTERVAL_MS,
  certificates: [],
  policyVersion: reported.version ?? null,
  policyRejected: reported.rejected ?? null,
});

function control(site: string, reported: Reported & { latest?: PolicyLatest | null; permissive?: string[]; revocations?: number } = {}): BoardEntry {
  const record = { ...base(site, reported), kind: 'control' as const, name: site, catalog: [], policyLatest: reported.latest ?? null, policyPermissive: reported.permissive ?? [], policyRevocations: reported.revocations ?? 0 };
  return entry(record, reported.ageMs);
}

const agent = (site: string, name: string, reported: Reported = {}): BoardEntry =>
  entry({ ...base(site, reported), kind: 'agent', name, natsConnected: true, services: [], traffic: [], failovers: [], rejections: 0 }, reported.ageMs);

/** A gateway with its tunnel to the other site up (the two sites here are east and west). */
function gateway(site: string, name: string, reported: Reported = {}): BoardEntry {
  const peerSite = site === 'east' ? 'west' : 'east';
  const link = { peerSite, state: 'up' as const, since: iso(300_000), lastHeartbeat: iso(1_000), rttMs: 0.4, streams: 0, bytesIn: 0, bytesOut: 0, lastError: null };
  return entry({ ...base(site, reported), kind: 'gateway', name, links: [link], rejections: 0, streamsActive: 0 }, reported.ageMs);
}

/** Version `version`, applied `agoMs` ago, as a control service holding it reports it. */
const latest = (version: number, agoMs: number): PolicyLatest => ({ version, appliedAt: iso(agoMs) });

function statusOf(entries: readonly BoardEntry[], policyLagBoundMs?: number): FederationStatus {
  return federationStatus({ site: 'east', entries, catalog: [], now: NOW, ...(policyLagBoundMs === undefined ? {} : { policyLagBoundMs }) });
}

const row = (status: FederationStatus, site: string): PolicyRow => status.policy.find((p) => p.site === site) ?? assert.fail(`no policy row for ${site}`);
const policyProblems = (status: FederationStatus) => status.problems.filter((p) => p.component.startsWith('policy')).map((p) => [p.severity, p.component, p.message]);

/** Two sites, each a control service, a gateway and two agents; `west` as given. */
function federation(west: { agents: [Reported, Reported]; gateway?: Reported; control?: Reported }, appliedAgoMs = 10_000): BoardEntry[] {
  const v2 = { version: 2 };
  return [
    control('east', { ...v2, latest: latest(2, appliedAgoMs) }),
    gateway('east', 'gw-1', v2),
    agent('east', 'east-1', v2),
    agent('east', 'east-2', v2),
    control('west', { ...(west.control ?? v2), latest: latest(2, appliedAgoMs) }),
    gateway('west', 'gw-1', west.gateway ?? v2),
    agent('west', 'west-1', west.agents[0]),
    agent('west', 'west-2', west.agents[1]),
  ];
}

describe('status policy section: versions per site against the newest', () => {
  it('no policy set published: every reporter on none, nothing lags, no problem', () => {
    const status = statusOf([control('east'), gateway('east', 'gw-1'), agent('east', 'east-1')]);
    assert.deepEqual(row(status, 'east'), {
      site: 'east',
      versions: [{ version: null, reporters: 3 }],
      newest: null,
      onNewest: 'all',
      lagging: false,
      laggingForMs: null,
      rejections: [],
      permissiveServices: [],
      revocations: 0,
      refusedCalls: 0,
    });
    assert.deepEqual(policyProblems(status), []);
  });

  it('all: every reporter of both sites enforces the newest version; healthy', () => {
    const status = statusOf(federation({ agents: [{ version: 2 }, { version: 2 }] }));
    for (const site of ['east', 'west']) {
      const r = row(status, site);
      assert.deepEqual([r.versions, r.newest, r.onNewest, r.lagging, r.laggingForMs], [[{ version: 2, reporters: 4 }], 2, 'all', false, null]);
    }
    assert.equal(status.healthy, true);
  });

  it('some: one agent still on version 1, 10 s after version 2 was applied: lagging, within the 30 s bound, no problem yet', () => {
    const status = statusOf(federation({ agents: [{ version: 2 }, { version: 1 }] }));
    const west = row(status, 'west');
    assert.deepEqual([west.versions, west.onNewest, west.lagging, west.laggingForMs], [[{ version: 2, reporters: 3 }, { version: 1, reporters: 1 }], 'some', true, 10_000]);
    assert.equal(row(status, 'east').lagging, false);
    assert.deepEqual(policyProblems(status), []);
    assert.equal(status.healthy, true);
  });

  it('none: no reporter of west on version 2, 45 s after it was applied: an error naming the site, version, duration and laggards', () => {
    const status = statusOf(federation({ agents: [{ version: 1 }, {}], gateway: { version: 1 }, control: { version: 1 } }, 45_000));
    const west = row(status, 'west');
    assert.deepEqual([west.versions, west.onNewest, west.lagging, west.laggingForMs], [[{ version: 1, reporters: 3 }, { version: null, reporters: 1 }], 'none', true, 45_000]);
    assert.deepEqual(policyProblems(status), [
      ['error', 'policy-lag', 'site west lags policy version 2 for 45 s (0 of 4 reporters enforce it): control west enforces version 1, gateway gw-1 enforces version 1, agent west-1 enforces version 1, agent west-2 enforces none'],
    ]);
    assert.equal(status.healthy, false);
    assert.match(renderFederationStatus(status, NOW), /^policy \(newest version: 2\)$/m);
    assert.match(renderFederationStatus(status, NOW), /^west\s+1 \(3\), none \(1\)\s+none\s+LAGGING 45 s\s+-\s+-\s+0\s+0$/m);
  });

  it('the lag bound is the option given (the server default is 30 s)', () => {
    const entries = federation({ agents: [{ version: 2 }, { version: 1 }] }, 45_000);
    assert.deepEqual(policyProblems(statusOf(entries, 60_000)), []);
    assert.equal(policyProblems(statusOf(entries, 44_000)).length, 1);
    assert.equal(policyProblems(statusOf(entries)).length, 1);
  });

  it('lagging with no apply time known yet (no control service reported the newest version): no duration, no problem', () => {
    const status = statusOf([control('east', { version: 1 }), gateway('east', 'gw-1', { version: 1 }), agent('east', 'east-1', { version: 3 })]);
    const east = row(status, 'east');
    assert.deepEqual([east.newest, east.onNewest, east.lagging, east.laggingForMs], [3, 'some', true, null]);
    assert.deepEqual(policyProblems(status), []);
  });

  it('an agent that stopped reporting does not hold its site lagging (its own problem says it); a site cut off is judged by its last reports', () => {
    const silent = federation({ agents: [{ version: 2 }, { version: 1, ageMs: 60_000 }] }, 45_000);
    const west = row(statusOf(silent), 'west');
    assert.deepEqual([west.versions, west.lagging], [[{ version: 2, reporters: 3 }], false]);
    const cutOff = [
      control('east', { version: 2, latest: latest(2, 45_000) }),
      gateway('east', 'gw-1', { version: 2 }),
      control('west', { version: 1, ageMs: 60_000 }),
      gateway('west', 'gw-1', { version: 1, ageMs: 60_000 }),
    ];
    const status = statusOf(cutOff);
    assert.deepEqual([row(status, 'west').versions, row(status, 'west').lagging], [[{ version: 1, reporters: 2 }], true]);
    assert.ok(policyProblems(status).some(([, component, message]) => component === 'policy-lag' && message?.startsWith('site west lags policy version 2 for 45 s (0 of 2 reporters enforce it)')));
  });
});

describe('status policy section: refused versions, permissive mTLS, revocations', () => {
  it('a version refused by agents is listed with its reason and reporters, and is an error; the refused version is the newest', () => {
    const rejected = { version: 3, reason: 'r.yaml#0 /spec/entries/0/notAfter: expected a date-time' };
    const status = statusOf(federation({ agents: [{ version: 2, rejected }, { version: 2, rejected }] }));
    const west = row(status, 'west');
    assert.deepEqual(west.rejections, [{ ...rejected, reporters: ['agent/west-1', 'agent/west-2'] }]);
    assert.deepEqual([west.newest, west.onNewest, west.lagging], [3, 'none', true]);
    assert.deepEqual(policyProblems(status), [['error', 'policy', `site west: policy version 3 refused by agent/west-1, agent/west-2: ${rejected.reason}`]]);
    assert.equal(status.healthy, false);
  });

  it('a refusal the reporter has since moved past is history: no rejection, no problem', () => {
    const status = statusOf(federation({ agents: [{ version: 2, rejected: { version: 1, reason: 'old' } }, { version: 2 }] }));
    assert.deepEqual(row(status, 'west').rejections, []);
    assert.deepEqual(policyProblems(status), []);
  });

  it("permissive services of the site's control service are a warning (healthy stays true); its revocations in force are counted", () => {
    const entries = [control('east', { version: 4, latest: latest(4, 1_000), permissive: ['*', 'legacy'], revocations: 2 }), gateway('east', 'gw-1', { version: 4 })];
    const status = statusOf(entries);
    const east = row(status, 'east');
    assert.deepEqual([east.permissiveServices, east.revocations], [['*', 'legacy'], 2]);
    assert.deepEqual(policyProblems(status), [['warning', 'policy', 'site east: mTLS is permissive (plaintext callers accepted) for * (every service without its own mode), legacy']]);
    assert.equal(status.healthy, true);
  });

  it("a record from an older reporter (string version, no policy fields) reads as none, never as a version", () => {
    const old = entry({ ...base('east', {}), kind: 'agent', name: 'old-1', natsConnected: true, services: [], traffic: [], failovers: [], rejections: 0, policyVersion: 'v7' } as unknown as StatusRecord);
    const status = statusOf([control('east'), old]);
    assert.deepEqual([row(status, 'east').versions, row(status, 'east').newest], [[{ version: null, reporters: 2 }], null]);
  });

  it('permissiveServices reads the enforced set: the federation-wide mode as "*", then each permissive service', () => {
    const text = 'kind: PolicyDefaults\nmetadata: { name: federation }\nspec: { defaultAction: allow, mtls: { mode: permissive, services: { payments: strict, legacy: permissive, billing: permissive } } }\n';
    const set = parsePolicySet([{ file: 'defaults.yaml', text }], { trustDomain: 'acme.internal' });
    assert.deepEqual(permissiveServices(enforcedPolicy(set, 5, NOW)), ['*', 'billing', 'legacy']);
    assert.deepEqual(permissiveServices(NO_POLICY), []);
  });
});
