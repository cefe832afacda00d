/** Resolves on the first SIGTERM or SIGINT: long-running commands then stop gracefully. */
export function waitForShutdown(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
}

/** What {@link runUntilShutdown} runs: a long-lived role with a graceful stop. */
export interface LongRunning {
  stop(): Promise<void>;
}

/**
 * Runs a role until the first SIGTERM or SIGINT, then stops it gracefully. SIGHUP never stops it
 * (a reload by habit, or a closed terminal): it calls `onHangup` with the role once it has
 * started (undefined while it starts). `started` runs once the role is up.
 */
export async function runUntilShutdown<T extends LongRunning>(options: {
  start: () => Promise<T>;
  onHangup: (running: T | undefined) => void;
  started?: (running: T) => void;
}): Promise<void> {
  let running: T | undefined;
  const onHangup = (): void => options.onHangup(running);
  process.on('SIGHUP', onHangup);
  try {
    running = await options.start();
    options.started?.(running);
    await waitForShutdown();
    await running.stop();
  } finally {
    process.off('SIGHUP', onHangup);
  }
}
