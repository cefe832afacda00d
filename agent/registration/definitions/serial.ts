/**
 * Runs a task one at a time. A request made while the task runs schedules exactly one more run,
 * shared by every request made meanwhile: each caller gets the result of a run that started
 * after its request, so it sees the state of the world at the time it asked.
 */
export class CoalescingRunner<T> {
  readonly #task: () => Promise<T>;
  #pending: Deferred<T> | undefined;
  #draining: Promise<void> | undefined;
  #closed: Error | undefined;

  constructor(task: () => Promise<T>) {
    this.#task = task;
  }

  /** Schedules a run (or joins the one already scheduled) and resolves with its result. */
  request(): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const pending = (this.#pending ??= deferred<T>());
    // #drain runs synchronously up to its first await, taking #pending: keep our own reference.
    this.#draining ??= this.#drain();
    return pending.promise;
  }

  /** Refuses new requests, fails the scheduled run with `reason`, and waits for the current run. */
  async close(reason: Error): Promise<void> {
    this.#closed ??= reason;
    this.#pending?.reject(reason);
    this.#pending = undefined;
    await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      for (let next = this.#pending; next !== undefined; next = this.#pending) {
        this.#pending = undefined;
        try {
          next.resolve(await this.#task());
        } catch (err) {
          next.reject(err);
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

// Promise.withResolvers arrives with Node 22; we support Node 20.
function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (reason: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
