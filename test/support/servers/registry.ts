import { readFileSync, rmSync } from 'node:fs';

/*
 * Process-wide record of every child server and temp dir we created. A test that throws, a demo
 * interrupted with Ctrl-C, or a forgotten stop() must not leave nats-server processes or JetStream
 * stores behind, so on 'exit' (which also runs after an uncaught exception) and on SIGINT/SIGTERM
 * the leftovers are killed by PID and their dirs removed, synchronously.
 */

const children = new Set<number>();
const dirs = new Set<string>();
let hooked = false;

/** Records a child PID for emergency cleanup. */
export function trackChild(pid: number): void {
  installHooks();
  children.add(pid);
}

/** Forgets a child that has exited. */
export function untrackChild(pid: number): void {
  children.delete(pid);
}

/** Records a temp dir for emergency cleanup. */
export function trackDir(dir: string): void {
  installHooks();
  dirs.add(dir);
}

/** Removes a temp dir now and forgets it. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  dirs.delete(dir);
}

/** Kills every remaining child and removes every remaining dir, synchronously. */
export function cleanupSync(): void {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  // A killed server may still hold files open for a moment; wait until it is dead so that it
  // cannot recreate anything inside a dir we are about to remove.
  for (const pid of children) waitDeadSync(pid, 500);
  children.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort during exit; nothing else can be done here.
    }
  }
  dirs.clear();
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      // If the application has its own handler it owns shutdown (and our 'exit' hook still runs);
      // alone, we must exit ourselves, since adding a listener disabled Node's default exit.
      if (process.listenerCount(signal) > 1) return;
      cleanupSync();
      process.exit(code);
    });
  }
}

/** Our own dead child stays a zombie until Node reaps it, so check /proc state, not kill(0). */
function waitDeadSync(pid: number, boundMs: number): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    let state: string | undefined;
    try {
      state = /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X' || state === undefined) return;
    Atomics.wait(sleeper, 0, 0, 5);
  }
}
