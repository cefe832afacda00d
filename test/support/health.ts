import { createServer, type AddressInfo, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeListener, DecidedState } from '../../agent/health/index.js';

/** One onChange call, with anything the test snapshots at that moment. */
export interface RecordedChange {
  readonly state: DecidedState;
  readonly reason: string;
  readonly consecutive: number;
  readonly snapshot: number;
}

/** Collects onChange calls; `snapshot` is taken inside the call (e.g. a server's hit count). */
export function recordChanges(snapshot: () => number = () => 0): { changes: RecordedChange[]; onChange: ChangeListener } {
  const changes: RecordedChange[] = [];
  return {
    changes,
    onChange: (state, detail) => changes.push({ state, reason: detail.reason, consecutive: detail.consecutive, snapshot: snapshot() }),
  };
}

/** Polls `condition` every 10 ms; fails with `what` after `timeoutMs`. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Listens on 127.0.0.1 with an OS-assigned port and returns it. */
export async function listenLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server; resolves once it stopped listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A loopback port nobody listens on (it was free a moment ago). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  const port = await listenLoopback(server);
  await closeServer(server);
  return port;
}
