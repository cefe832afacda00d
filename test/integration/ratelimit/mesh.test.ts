/**
 * Rate limits (issue #13) through a real 3-site mesh: NATS supercluster, a control service and a
 * gateway per site, three agents started by the agent runtime with a `rateLimits` section (one
 * real redis-server over TLS 1.3 with a password). The policy is applied with `meridian policy
 * apply`. payments has an instance in east and one in west; a caller app in each of east, west
 * and north calls its agent's outbound listener, so north's calls cross the gateways.
 * Measured: a global limit under 5× its rate from three sites; the 429 reaching each caller app;
 * Redis killed mid-traffic (SIGKILL by its PID) with `onRedisLoss: closed`, then restarted on its
 * port; a local limit per caller at one instance.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { agentAuthorization } from '../../support/agent-process.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { h1, type Reply } from '../../support/clients.js';
import { eventually, fileScope, useTempDir } from '../../support/harness.js';
import { startFederationMesh, type FederationMesh } from '../../support/mesh/index.js';
import { freePort, redisTlsFiles, startRedisServer, type RedisServerHandle, type RedisTlsFiles } from '../../support/servers/index.js';
import { everywhere, meridianAt, printedVersion, writeSet } from '../policy/mesh-support.js';

const SITES = ['east', 'west', 'north'] as const;
type Site = (typeof SITES)[number];
const PASSWORD = 'redis-secret-for-mesh-tests';
/** The global limit: 30/s with a burst of 10, offered 5× for 8 s (the 20 s shortened to keep the file near a minute; the ±10% bound is the same). */
const LIMIT = 30;
const BURST = 10;
const RUN_MS = 8000;

const POLICY = `kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: allow}
---
kind: RateLimit
metadata: {name: pay-global}
spec:
  service: payments
  global: {rate: ${LIMIT}, per: 1s, burst: ${BURST}, onRedisLoss: closed}
---
kind: RateLimit
metadata: {name: ledger-local}
spec:
  service: ledger
  local: {rate: 1, per: 1m, burst: 3, by: caller}
`;

/** One call as the caller app saw it, with when it was sent (ms since the epoch). */
interface Outcome {
  readonly site: Site;
  readonly sentAt: number;
  readonly reply: Reply;
}

let mesh: FederationMesh;
let redis: RedisServerHandle;
let tls: RedisTlsFiles;
const agents = new Map<string, RunningAgent>();
const callerPorts = new Map<Site, number>();
const keepAlive = new Agent({ keepAlive: true, maxSockets: 32 });
let ledger: TestApp;

/** One request from `site`'s caller app through its agent's outbound listener; a failure before any response is status 0. */
async function call(site: Site, host: string, path = '/'): Promise<Outcome> {
  const sentAt = Date.now();
  const port = callerPorts.get(site) ?? assert.fail(site);
  const reply = await h1(port, { host, path, agent: keepAlive }).catch((error: Error) => ({ status: 0, headers: {}, body: Buffer.from(error.message), trailers: {} }));
  return { site, sentAt, reply };
}

/**
 * Every site's caller calls payments, `perSecond` calls a second in all, for `durationMs`
 * (open loop: a call does not wait for the one before). `during` runs alongside the traffic.
 */
async function offer(perSecond: number, durationMs: number, during?: () => Promise<void>): Promise<{ outcomes: Outcome[]; elapsedMs: number }> {
  const intervalMs = (1000 * SITES.length) / perSecond;
  const pending: Promise<Outcome>[] = [];
  const started = Date.now();
  const side = during?.();
  let last = started;
  for (let tick = 0; Date.now() - started < durationMs && tick < 5000; tick++) {
    last = Date.now();
    // Each tick starts at another site: the first call after a refill takes the token.
    for (let n = 0; n < SITES.length; n++) pending.push(call(SITES[(tick + n) % SITES.length] ?? 'east', 'payments.mesh', '/pay'));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + (tick + 1) * intervalMs - Date.now())));
  }
  await side;
  return { outcomes: await Promise.all(pending), elapsedMs: last - started };
}

function json<T>(reply: Reply): T {
  return JSON.parse(reply.body.toString()) as T;
}

function counts(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { site, reply } of outcomes) out[`${site} ${reply.status}`] = (out[`${site} ${reply.status}`] ?? 0) + 1;
  return out;
}

/** What a refused call carries to the app: 429, retry-after, the Meridian code and the limit's message. */
function assertRefused(outcome: Outcome, message: RegExp, retryAfter?: (seconds: number) => boolean): void {
  const { reply, site } = outcome;
  assert.equal(reply.status, 429, `${site}: ${reply.body.toString()}`);
  const seconds = Number(reply.headers['retry-after']);
  assert.ok(Number.isInteger(seconds) && (retryAfter ?? ((s) => s >= 1))(seconds), `${site}: retry-after ${String(reply.headers['retry-after'])}`);
  const body = json<{ code: string; message: string }>(reply);
  assert.equal(body.code, 'MERIDIAN_ERR_RATE_LIMITED', site);
  assert.match(body.message, message, site);
}

/** `meridian_rate_limited_total{service, limit}` of `node`'s agent, read from its API's /metrics. */
async function limitedTotal(node: string, service: string, limit: string): Promise<number> {
  const agent = agents.get(node) ?? assert.fail(node);
  const text = await (await fetch(`${agent.api.url}/metrics`, { headers: agentAuthorization(agent) })).text();
  const line = text.split('\n').find((l) => l.startsWith('meridian_rate_limited_total{') && l.includes(`service="${service}"`) && l.includes(`limit="${limit}"`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

async function app(node: string, service: string, name: string): Promise<TestApp> {
  const started = await startHttpApp(name, 'http');
  fileScope.after(() => started.kill());
  await (agents.get(node) ?? assert.fail(node)).registrar.register({ service, ports: { http: started.port }, export: true }, { kind: 'api' });
  return started;
}

/** SIGKILL to the redis-server this file started, by its PID; resolves once the process is gone. */
async function killRedis(): Promise<void> {
  process.kill(redis.pid, 'SIGKILL');
  await eventually(() => assert.throws(() => process.kill(redis.pid, 0)), { timeoutMs: 5000, intervalMs: 5 });
}

describe('rate limits through a real 3-site mesh, Redis over TLS with a password', () => {
  before(async () => {
    const dir = useTempDir('meridian-ratelimit-mesh-');
    tls = redisTlsFiles(dir);
    const passwordFile = join(dir, 'redis.password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    redis = await startRedisServer({ tls, password: PASSWORD });
    fileScope.after(() => redis.stop());
    fileScope.after(() => Promise.resolve(keepAlive.destroy()));
    mesh = await startFederationMesh(SITES);
    // A Redis call bound of 250ms, not the 50ms default: this one process runs the whole mesh on a
    // shared machine, and a stalled event loop must not read as a Redis loss.
    const rateLimits = { redis: { url: redis.url, passwordFile, caFile: tls.caFile }, mode: 'script' as const, timeout: '250ms' };
    for (const site of SITES) agents.set(`${site}-1`, await mesh.agent(site, `${site}-1`, { rateLimits }));
    await app('east-1', 'payments', 'payments-east');
    await app('west-1', 'payments', 'payments-west');
    ledger = await app('west-1', 'ledger', 'ledger');
    for (const site of SITES) {
      const port = await freePort();
      callerPorts.set(site, port);
      await (agents.get(`${site}-1`) ?? assert.fail(site)).registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: port } }, { kind: 'api' });
    }
    for (const site of SITES) await eventually(async () => assert.equal((await call(site, 'payments.mesh')).reply.status, 200), { timeoutMs: 30_000 });
    const applied = await meridianAt(mesh, 'east', 'policy', 'apply', '-f', writeSet(dir, 'v1', { 'limits.yaml': POLICY }));
    assert.equal(applied.code, 0, applied.stderr);
    await everywhere(mesh, agents, printedVersion(applied.stdout));
  });

  it(`a global limit of ${LIMIT}/s on payments (east and west), three sites offering 5× for ${RUN_MS / 1000} s: accepted within ±10% of limit × time + burst`, async () => {
    const before = (await limitedTotal('east-1', 'payments', 'pay-global')) + (await limitedTotal('west-1', 'payments', 'pay-global'));
    const { outcomes, elapsedMs } = await offer(5 * LIMIT, RUN_MS);
    const accepted = outcomes.filter((o) => o.reply.status === 200);
    const expected = (LIMIT * elapsedMs) / 1000 + BURST;
    console.log(`[ratelimit mesh] offered ${outcomes.length} in ${elapsedMs} ms, accepted ${accepted.length} (expected ${expected.toFixed(0)}, ${(((accepted.length - expected) / expected) * 100).toFixed(1)}%), ${JSON.stringify(counts(outcomes))}`);
    assert.ok(Math.abs(accepted.length - expected) <= expected * 0.1, `accepted ${accepted.length}, expected ${expected.toFixed(0)} ± 10%`);
    // Both instances served, under one limit; every site was admitted and refused, north across the gateways.
    assert.deepEqual(new Set(accepted.map((o) => json<Seen>(o.reply).app)), new Set(['payments-east', 'payments-west']));
    for (const site of SITES) {
      assert.ok(accepted.some((o) => o.site === site), `${site} admitted`);
      const refused = outcomes.filter((o) => o.site === site && o.reply.status !== 200);
      assert.ok(refused.length > 0, `${site} refused`);
      for (const outcome of refused) assertRefused(outcome, /^rate limit "pay-global" \(global\) exceeded$/u);
    }
    // Each refusal was counted by the agent that refused it.
    const after = (await limitedTotal('east-1', 'payments', 'pay-global')) + (await limitedTotal('west-1', 'payments', 'pay-global'));
    assert.equal(after - before, outcomes.length - accepted.length);
  });

  it('Redis killed mid-traffic: onRedisLoss closed refuses from the first call after the loss; restarted on its port, the limit resumes', async () => {
    // Refilled, then traffic at half the limit: everything passes until the kill.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let killAt = 0;
    let goneAt = 0;
    const port = redis.port;
    const { outcomes } = await offer(LIMIT / 2, 4000, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      killAt = Date.now();
      await killRedis();
      goneAt = Date.now();
    });
    const beforeKill = outcomes.filter((o) => o.sentAt < killAt);
    const afterLoss = outcomes.filter((o) => o.sentAt > goneAt);
    console.log(`[ratelimit mesh] redis loss: before ${JSON.stringify(counts(beforeKill))}, after ${JSON.stringify(counts(afterLoss))}, kill took ${goneAt - killAt} ms`);
    assert.deepEqual(new Set(beforeKill.map((o) => o.reply.status)), new Set([200]));
    for (const site of SITES) assert.ok(afterLoss.filter((o) => o.site === site).length >= 5, `${site} called after the loss`);
    for (const outcome of afterLoss) assertRefused(outcome, /^rate limit "pay-global" \(global\) cannot be checked: its store is unreachable .*onRedisLoss is closed$/u, (s) => s === 1);

    redis = await startRedisServer({ tls, password: PASSWORD, port });
    for (const site of SITES) await eventually(async () => assert.equal((await call(site, 'payments.mesh')).reply.status, 200), { timeoutMs: 10_000 });
    // The limit is in force again (a fresh bucket in the new Redis), at its rate.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const resumed = await offer(5 * LIMIT, 3000);
    const accepted = resumed.outcomes.filter((o) => o.reply.status === 200).length;
    const expected = (LIMIT * resumed.elapsedMs) / 1000 + BURST;
    console.log(`[ratelimit mesh] resumed: accepted ${accepted} of ${resumed.outcomes.length} (expected ${expected.toFixed(0)})`);
    assert.ok(Math.abs(accepted - expected) <= expected * 0.1, `accepted ${accepted}, expected ${expected.toFixed(0)} ± 10%`);
    for (const outcome of resumed.outcomes.filter((o) => o.reply.status !== 200)) assertRefused(outcome, /^rate limit "pay-global" \(global\) exceeded$/u);
  });

  it('a local limit by caller at the ledger instance (west): each caller, same site or across the gateways, gets its own burst', async () => {
    const hits = ledger.hits;
    for (const site of SITES) {
      const outcomes: Outcome[] = [];
      for (let n = 0; n < 5; n++) outcomes.push(await call(site, 'ledger.mesh', '/entries'));
      assert.deepEqual(outcomes.map((o) => o.reply.status), [200, 200, 200, 429, 429], site);
      // One token a minute: the caller is told to come back in about a minute.
      for (const outcome of outcomes.slice(3)) assertRefused(outcome, /^rate limit "ledger-local" \(local\) exceeded$/u, (s) => s > 50 && s <= 60);
    }
    assert.equal(ledger.hits - hits, 3 * SITES.length);
    assert.equal(await limitedTotal('west-1', 'ledger', 'ledger-local'), 2 * SITES.length);
  });
});
