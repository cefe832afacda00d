/**
 * The listeners of a value that changes (an identity, a policy): each is told every change; one that
 * throws is reported through `onError` and does not stop the others, so one consumer failing to
 * swap never leaves the rest on the old value.
 */
export class Listeners<A extends unknown[]> {
  readonly #listeners = new Set<(...args: A) => void>();
  readonly #onError: (error: Error) => void;

  constructor(onError: (error: Error) => void = () => undefined) {
    this.#onError = onError;
  }

  /** Calls `listener` on every change from now on; returns the function that stops it. */
  add(listener: (...args: A) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tells every listener, in the order they were added (a listener added meanwhile waits for the next change). */
  notify(...args: A): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(...args);
      } catch (error) {
        this.#onError(error as Error);
      }
    }
  }
}
