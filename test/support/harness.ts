/**
 * Test-facing wrappers over the server launchers (test/support/servers): each `use*` helper starts real servers and registers
 * their teardown with node:test, so a test file reads as what it checks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after } from 'node:test';
import {
  startNatsServer,
  startRedisServer,
  startSupercluster,
  type NatsServerHandle,
  type NatsServerOptions,
  type RedisServerHandle,
  type RedisServerOptions,
  type SuperclusterHandle,
  type SuperclusterOptions,
} from './servers/index.js';

/** Where teardown is registered: the end of the test file (default) or a TestContext. */
export interface TeardownScope {
  after(fn: () => Promise<void>): void;
}

/*
 * node:test's `after()` binds to whatever test or hook is running when it is called: from inside
 * a `before()` hook it fires right after that hook, stopping a shared supercluster before any test
 * ran. So this module registers one root-level hook while it is being imported (outside any test)
 * and file-scoped teardowns queue on it, last started first stopped.
 */
const fileTeardowns: (() => Promise<void>)[] = [];
after(async () => {
  const errors: unknown[] = [];
  for (const teardown of fileTeardowns.splice(0).reverse()) await teardown().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw new AggregateError(errors, 'harness teardown failed');
});

/** Teardown at the end of the test file, wherever the `use*` helper was called from. */
export const fileScope: TeardownScope = { after: (fn) => fileTeardowns.push(fn) };

/** Starts a nats-server (JetStream on), stopped at the end of the file (or of `scope`, e.g. `t`). */
export async function useNatsServer(options: NatsServerOptions = {}, scope: TeardownScope = fileScope): Promise<NatsServerHandle> {
  const server = await startNatsServer(options);
  scope.after(() => server.stop());
  return server;
}

/**
 * Starts a supercluster (one site = one NATS cluster), stopped at the end of the file. Start-up
 * takes ~5-10 s, so share one per file and isolate tests with {@link uniqueName}.
 */
export async function useSupercluster(options: SuperclusterOptions, scope: TeardownScope = fileScope): Promise<SuperclusterHandle> {
  const cluster = await startSupercluster(options);
  scope.after(() => cluster.stop());
  return cluster;
}

/** Starts a redis-server, stopped at the end of the file (or of `scope`, e.g. `t`). */
export async function useRedisServer(options: RedisServerOptions = {}, scope: TeardownScope = fileScope): Promise<RedisServerHandle> {
  const server = await startRedisServer(options);
  scope.after(() => server.stop());
  return server;
}

/** A new private temp dir `<tmpdir>/<prefix>XXXXXX`, removed at the end of the file (or of `scope`). */
export function useTempDir(prefix: string, scope: TeardownScope = fileScope): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scope.after(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

/** A name no other test uses, valid as a NATS bucket or stream name: `<prefix>_<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /** Bound on the whole wait. Default 10 000 ms. */
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Retries `check` until it returns without throwing and resolves with its result. Propagation
 * across sites has no fixed delay, so tests poll with a bound instead of sleeping; on timeout
 * the last failure (usually an AssertionError) is thrown as is.
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/**
 * Polls a synchronous `condition` every 10 ms until it holds; fails with `what` after `timeoutMs`.
 * For state a test can read directly (counters, link states); use {@link eventually} for checks
 * that throw or are asynchronous.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Milliseconds `fn` took, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - start), value };
}

/**
 * True while a process with this PID exists. A child we spawned ourselves stays a zombie (and
 * "alive" to kill(0)) until reaped; the launchers reap before their stop/kill resolves.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
