import { Listeners } from '../process/index.js';
import type { MtlsIdentity } from './tls.js';

/** Told the new identity and the one it replaced. */
export type IdentityListener = (identity: MtlsIdentity, previous: MtlsIdentity) => void;

/**
 * The identity a process presents now. Renewal (a new key and chain) and the trust document (a
 * new bundle) replace it; every TLS server, client pool and NATS connection of the process
 * follows it through `onChange`, or reads `current` when it opens a new connection. Reading
 * `current` is a field access: the data path pays nothing for it.
 */
export class LiveIdentity {
  #current: MtlsIdentity;
  readonly #listeners: Listeners<Parameters<IdentityListener>>;

  constructor(initial: MtlsIdentity, options: { onListenerError?: (error: Error) => void } = {}) {
    this.#current = initial;
    this.#listeners = new Listeners(options.onListenerError);
  }

  get current(): MtlsIdentity {
    return this.#current;
  }

  /**
   * Replaces part of the identity (key and chain together, or the bundle) and tells every
   * listener. A listener that throws is reported and does not stop the others: one consumer
   * failing to swap must not leave the rest on the old identity.
   */
  replace(partial: Partial<MtlsIdentity>): MtlsIdentity {
    const previous = this.#current;
    const next: MtlsIdentity = { ...previous, ...partial };
    this.#current = next;
    this.#listeners.notify(next, previous);
    return next;
  }

  /** Calls `listener` on every change from now on; returns the function that stops it. */
  onChange(listener: IdentityListener): () => void {
    return this.#listeners.add(listener);
  }
}
