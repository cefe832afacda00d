import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../support/servers/index.js';
import { isAlive, useRedisServer } from '../../support/harness.js';

test('a redis-server on a free loopback port answers PING and SET/GET via ioredis', { timeout: 20_000 }, async (t) => {
  const server = await useRedisServer({}, t);
  assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
  assert.ok(server.dir.startsWith(join(tmpdir(), 'meridian-redis-')), server.dir);
  const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(() => redis.disconnect());
  await redis.connect();
  assert.equal(await redis.ping(), 'PONG');
  await redis.set('rate:payments', '41');
  assert.equal(await redis.incr('rate:payments'), 42);
  assert.equal(await redis.get('rate:payments'), '42');
  // Persistence is off: a throw-away server must never write a dump into its dir.
  assert.deepEqual(await redis.config('GET', 'save'), ['save', '']);
  assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'no']);
});

test('two servers started at once get different ports', { timeout: 20_000 }, async (t) => {
  const [a, b] = await Promise.all([useRedisServer({}, t), useRedisServer({}, t)]);
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.dir, b.dir);
});

test('stop() ends the process and removes its dir; a second stop() is a no-op', { timeout: 20_000 }, async () => {
  const server = await startRedisServer();
  const { pid, dir } = server;
  await server.stop();
  assert.equal(isAlive(pid), false);
  assert.equal(existsSync(dir), false);
  await server.stop();
});
