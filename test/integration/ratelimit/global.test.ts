/**
 * Global rate limits (issue #13): three destination agents' inbound listeners (one per site, each
 * with its own limiter, as three agents have) share buckets in one real redis-server over TLS 1.3
 * with a password. Callers speak real mTLS HTTP/2. Measured: accuracy under 5× the limit in both
 * modes (one script call per decision, batches of tokens); Redis killed mid-test (SIGKILL by its
 * PID) in fail-open and fail-closed, and limits resuming once it is back; refused credentials.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy } from '../../../agent/proxy/index.js';
import { startRateLimiter, type RateLimiter, type RateLimiterSettings } from '../../../agent/proxy/ratelimit/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { startHttpApp, type TestApp } from '../../support/apps.js';
import { h2, type Reply } from '../../support/clients.js';
import { eventually, fileScope, useTempDir } from '../../support/harness.js';
import { quietLogger, startNode } from '../../support/mesh/index.js';
import { mtlsH2, TestTrustDomain } from '../../support/pki/index.js';
import { TestPolicy } from '../../support/policy.js';
import { redisTlsFiles, startRedisServer, type RedisServerHandle } from '../../support/servers/index.js';

const SITES = ['east', 'west', 'north'] as const;
const PASSWORD = 'redis-secret-for-tests';
/** The accuracy run: 5× a limit of 40/s for 10 s (the issue asks 20 s; 10 s keeps the file near a minute, the ±10% bound is the same). */
const LIMIT = 40;
const RUN_MS = 10_000;

const POLICY = `kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: allow}
---
kind: RateLimit
metadata: {name: pay-global}
spec:
  service: payments
  global: {rate: ${LIMIT}, per: 1s, burst: 4}
---
kind: RateLimit
metadata: {name: open-on-loss}
spec:
  service: ledger
  global: {rate: 1, per: 1s, burst: 1, onRedisLoss: open}
---
kind: RateLimit
metadata: {name: closed-on-loss}
spec:
  service: vault
  global: {rate: 1, per: 1s, burst: 1, onRedisLoss: closed}
`;

const pki = new TestTrustDomain();
const dir = useTempDir('meridian-ratelimit-');
const tls = redisTlsFiles(dir);
const passwordFile = join(dir, 'redis.password');
writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
let redis: RedisServerHandle;
let app: TestApp;

function settings(mode: 'script' | 'batch', extra: Partial<RateLimiterSettings['redis']> = {}): RateLimiterSettings {
  return { redis: { url: redis.url, passwordFile, caFile: tls.caFile, ...extra }, mode, batch: 5, timeoutMs: 100 };
}

/** Three destination agents (one per site), each with its own limiter in `mode`, serving payments, ledger and vault. */
async function startAgents(mode: 'script' | 'batch', policy: TestPolicy): Promise<{ nodes: InboundProxy[]; limiters: RateLimiter[] }> {
  const nodes: InboundProxy[] = [];
  const limiters: RateLimiter[] = [];
  for (const site of SITES) {
    const limiter = await startRateLimiter(settings(mode), policy.live, quietLogger(`limiter:${site}`));
    const service = { address: '127.0.0.1', port: app.port, protocol: 'http' as const, exported: true };
    limiters.push(limiter);
    nodes.push(await startNode(pki, site, { payments: service, ledger: service, vault: service }, { policy: policy.live, rateLimiter: limiter }));
  }
  return { nodes, limiters };
}

async function stopAgents(agents: { nodes: InboundProxy[]; limiters: RateLimiter[] }): Promise<void> {
  for (const node of agents.nodes) await node.close(1000);
  for (const limiter of agents.limiters) await limiter.close();
}

/** One h2 session per site: the `orders` service of that site calling `service` at that site's agent. */
async function sessions(nodes: readonly InboundProxy[], service: string): Promise<ClientHttp2Session[]> {
  const opened: ClientHttp2Session[] = [];
  for (const [index, site] of SITES.entries()) opened.push((await mtlsH2(nodes[index]?.port ?? 0, pki.identity(site, 'svc', 'orders'), service)).session);
  return opened;
}

/** Every caller offers its share of 5× the limit for RUN_MS; resolves with the statuses. */
async function offer(callers: readonly ClientHttp2Session[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const intervalMs = (1000 * callers.length) / (5 * LIMIT);
  const pending: Promise<void>[] = [];
  const started = Date.now();
  for (let tick = 0; Date.now() - started < RUN_MS && tick < 10_000; tick++) {
    for (const session of callers) {
      pending.push(
        h2(session, { ':authority': 'payments.mesh', ':path': '/pay' }).then(
          (reply) => void statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1),
          () => void statuses.set(0, (statuses.get(0) ?? 0) + 1),
        ),
      );
    }
    const next = started + (tick + 1) * intervalMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  await Promise.all(pending);
  return statuses;
}

async function call(session: ClientHttp2Session, service: string): Promise<Reply> {
  return h2(session, { ':authority': `${service}.mesh`, ':path': '/x' });
}

function message(reply: Reply): string {
  return String((JSON.parse(reply.body.toString()) as { message?: string }).message);
}

/** SIGKILL to the redis-server this file started, by its PID; resolves once the process is gone. */
async function killRedis(): Promise<void> {
  process.kill(redis.pid, 'SIGKILL');
  await eventually(() => assert.throws(() => process.kill(redis.pid, 0)), { timeoutMs: 5000 });
}

before(async () => {
  redis = await startRedisServer({ tls, password: PASSWORD });
  fileScope.after(() => redis.stop());
  app = await startHttpApp('payments', 'http');
  fileScope.after(() => app.kill());
});

for (const mode of ['script', 'batch'] as const) {
  describe(`global limits in ${mode} mode, Redis over TLS with a password`, () => {
    const policy = new TestPolicy();
    let agents: { nodes: InboundProxy[]; limiters: RateLimiter[] };
    let callers: ClientHttp2Session[];

    before(async () => {
      policy.apply(POLICY);
      agents = await startAgents(mode, policy);
      callers = await sessions(agents.nodes, 'payments');
    });
    after(async () => {
      for (const session of callers) session.close();
      await stopAgents(agents);
    });

    it(`three sites offering 5× a ${LIMIT}/s limit for ${RUN_MS / 1000} s get the limit within ±10%`, async () => {
      const statuses = await offer(callers);
      const accepted = statuses.get(200) ?? 0;
      const expected = (LIMIT * RUN_MS) / 1000;
      console.log(`[ratelimit] ${mode}: offered ${[...statuses.values()].reduce((a, b) => a + b, 0)}, accepted ${accepted} (limit × time = ${expected}, ${(((accepted - expected) / expected) * 100).toFixed(1)}%), statuses ${JSON.stringify([...statuses])}`);
      assert.ok(Math.abs(accepted - expected) <= expected * 0.1, `accepted ${accepted}, expected ${expected} ± 10%`);
      assert.deepEqual([...statuses.keys()].sort(), [200, 429]);
    });

    it('Redis killed mid-test: fail-open lets traffic flow, fail-closed refuses from the first request; both resume when Redis is back', async () => {
      const east = agents.nodes[0]?.port ?? 0;
      const ledger = (await mtlsH2(east, pki.identity('east', 'svc', 'orders'), 'ledger')).session;
      const vault = (await mtlsH2(east, pki.identity('east', 'svc', 'orders'), 'vault')).session;
      try {
        // The buckets (burst 1) are spent: the limits are in force through Redis.
        await eventually(async () => assert.equal((await call(ledger, 'ledger')).status, 429));
        await eventually(async () => assert.equal((await call(vault, 'vault')).status, 429));
        const port = redis.port;
        await killRedis();
        // Past one token's interval, so no batch's "known empty" hint is left: the next call needs Redis.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        for (let n = 0; n < 3; n++) assert.equal((await call(ledger, 'ledger')).status, 200, 'fail-open: every request flows');
        const refused = await call(vault, 'vault');
        assert.equal(refused.status, 429, 'fail-closed: the first request after the loss is refused');
        assert.equal(refused.headers['retry-after'], '1');
        assert.match(message(refused), /rate limit "closed-on-loss" \(global\) cannot be checked: its store is unreachable .*onRedisLoss is closed/u);
        redis = await startRedisServer({ tls, password: PASSWORD, port });
        // Back: the closed limit admits again (a fresh bucket), then refuses as a limit.
        await eventually(async () => assert.equal((await call(vault, 'vault')).status, 200), { timeoutMs: 10_000 });
        await eventually(async () => assert.match(message(await call(vault, 'vault')), /rate limit "closed-on-loss" \(global\) exceeded/u));
        await eventually(async () => assert.equal((await call(ledger, 'ledger')).status, 429));
      } finally {
        ledger.close();
        vault.close();
      }
    });
  });
}

describe('the federation Redis refusing the credentials', () => {
  it('fails the limiter start with MERIDIAN_ERR_CONFIG_INVALID naming /rateLimits/redis/passwordFile', async () => {
    const wrong = join(dir, 'wrong.password');
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
    const policy = new TestPolicy();
    await assert.rejects(startRateLimiter(settings('script', { passwordFile: wrong }), policy.live, quietLogger('limiter')), (error: unknown) => {
      assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID'));
      assert.match(error.message, /^\/rateLimits\/redis\/passwordFile: redis at rediss:\/\/127\.0\.0\.1:\d+ refused the credentials: WRONGPASS/u);
      return true;
    });
    const none = { redis: { url: redis.url, caFile: tls.caFile }, mode: 'script' as const, batch: 5, timeoutMs: 100 };
    await assert.rejects(startRateLimiter(none, policy.live, quietLogger('limiter')), /\/rateLimits\/redis\/passwordFile \(absent\): .*NOAUTH/u);
  });
});

