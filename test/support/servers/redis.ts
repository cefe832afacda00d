import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binary.js';
import { Child, ChildServer } from './child.js';
import { freePort, isAddressInUse, pollUntil, tcpExchange } from './probe.js';
import { removeDir, trackDir } from './registry.js';
import type { RedisServerHandle, RedisServerOptions } from './types.js';

const PORT_ATTEMPTS = 5;

/**
 * Starts a throw-away redis-server on a free 127.0.0.1 port with persistence off and its dir in
 * a fresh temp dir (`meridian-redis-*`). Resolves once PING answers PONG; retries on another
 * port if the one picked was taken in between.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? findBinary('redis-server');
  const dir = await mkdtemp(join(tmpdir(), 'meridian-redis-'));
  trackDir(dir);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(binary, dir, options);
      } catch (err) {
        if (!isAddressInUse(err) || attempt >= PORT_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

async function launch(binary: string, dir: string, options: RedisServerOptions): Promise<RedisServerHandle> {
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = await Child.spawn(binary, args, dir);
  try {
    await pollUntil(async () => ((await tcpExchange(port, 'PING\r\n')).startsWith('+PONG') ? true : undefined), {
      what: `PONG from redis-server on 127.0.0.1:${port}`,
      timeoutMs: options.startTimeoutMs ?? 10_000,
      child,
    });
  } catch (err) {
    await child.kill();
    throw err;
  }
  return new RedisServer({ child, dir, port, stopTimeoutMs: options.stopTimeoutMs ?? 5000 });
}

class RedisServer extends ChildServer implements RedisServerHandle {
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}
