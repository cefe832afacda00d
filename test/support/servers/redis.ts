import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binary.js';
import { Child, ChildServer, type ChildServerParts } from './child.js';
import { freePort, isAddressInUse, pollUntil, tcpExchange } from './probe.js';
import { removeDir, trackDir } from './registry.js';
import type { RedisServerHandle, RedisServerOptions } from './types.js';

const PORT_ATTEMPTS = 5;

/**
 * Starts a throw-away redis-server on a free 127.0.0.1 port with persistence off and its dir in
 * a fresh temp dir (`meridian-redis-*`), optionally over TLS and with a password. Resolves once
 * it accepts connections; retries on another port if the one picked was taken in between.
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
        if (!isAddressInUse(err) || attempt >= PORT_ATTEMPTS || options.port !== undefined) throw err;
      }
    }
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

/** TLS (1.3 only, no client certificates) on the port instead of plain TCP, and/or a password (requirepass). */
function securityArgs(port: number, options: RedisServerOptions): string[] {
  const password = options.password === undefined ? [] : ['--requirepass', options.password];
  if (options.tls === undefined) return ['--port', String(port), ...password];
  const { certFile, keyFile } = options.tls;
  return ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-auth-clients', 'no', '--tls-protocols', 'TLSv1.3', ...password];
}

/** Ready once PING answers PONG; with TLS or a password, once the server says it accepts connections. */
async function ready(port: number, child: Child, options: RedisServerOptions): Promise<true | undefined> {
  if (options.tls !== undefined || options.password !== undefined) return child.output().includes('Ready to accept connections') ? true : undefined;
  return (await tcpExchange(port, 'PING\r\n')).startsWith('+PONG') ? true : undefined;
}

async function launch(binary: string, dir: string, options: RedisServerOptions): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const args = ['--bind', '127.0.0.1', ...securityArgs(port, options), '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = await Child.spawn(binary, args, dir);
  try {
    await pollUntil(() => ready(port, child, options), {
      what: `PONG from redis-server on 127.0.0.1:${port}`,
      timeoutMs: options.startTimeoutMs ?? 10_000,
      child,
    });
  } catch (err) {
    await child.kill();
    throw err;
  }
  return new RedisServer({ child, dir, port, stopTimeoutMs: options.stopTimeoutMs ?? 5000 }, options.tls !== undefined);
}

class RedisServer extends ChildServer implements RedisServerHandle {
  readonly #tls: boolean;

  constructor(parts: ChildServerParts, tls: boolean) {
    super(parts);
    this.#tls = tls;
  }

  get url(): string {
    return `${this.#tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }
}
