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
