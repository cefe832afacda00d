import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeridianError } from '../../../shared/errors/index.js';
import { lastLines, type Child } from './child.js';

/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** What is awaited, for the timeout message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** A process whose exit aborts the wait with MERIDIAN_ERR_PROCESS_START and its output. */
  child?: Child;
}

/**
 * Calls `probe` until it returns a value other than undefined. Bounded by `timeoutMs`
 * (MERIDIAN_ERR_TIMEOUT); a probe that throws counts as "not yet" and its last error becomes
 * the timeout's cause.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (options.child?.exitInfo) throw earlyExit(options.child, options.what);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new MeridianError('MERIDIAN_ERR_TIMEOUT', `timed out after ${options.timeoutMs} ms waiting for ${options.what}`, {
        cause: lastError,
      });
    }
    const pause = sleep(options.intervalMs ?? 50);
    await (options.child ? Promise.race([pause, options.child.exited]) : pause);
  }
}

/** The start failure of a child that exited while we waited for it. */
export function earlyExit(child: Child, what: string): MeridianError {
  const info = child.exitInfo;
  const how = info?.signal ? `signal ${info.signal}` : `code ${String(info?.code)}`;
  return new MeridianError(
    'MERIDIAN_ERR_PROCESS_START',
    `process ${child.pid} exited (${how}) while waiting for ${what}; last output:\n${lastLines(child.output())}`,
    { details: { pid: child.pid, exit: info } },
  );
}

/**
 * A loopback port that was free a moment ago. Another process may take it before we bind it,
 * so callers retry their start on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** GET `url` as JSON with a per-request bound; throws on non-2xx. */
export async function getJson(url: string, timeoutMs = 2000): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Sends raw `payload` to 127.0.0.1:`port` and resolves with the first reply bytes as text. */
export async function tcpExchange(port: number, payload: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from 127.0.0.1:${port}`)));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`127.0.0.1:${port} closed without a reply`)));
    socket.once('connect', () => socket.write(payload));
    socket.once('data', (data) => {
      resolve(data.toString('utf8'));
      socket.destroy();
    });
  });
}

/** True when a start failed because a fixed port was taken. */
export function isAddressInUse(err: unknown): boolean {
  return err instanceof MeridianError && err.code === 'MERIDIAN_ERR_PROCESS_START' && /address already in use/i.test(err.message);
}
