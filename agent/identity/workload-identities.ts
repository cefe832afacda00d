import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/telemetry/index.js';
import {
  RenewalTimer,
  readCertificates,
  readPrivateKey,
  writeCertificates,
  writePrivateKey,
  type MtlsIdentity,
  type TrustBundle,
} from '../../shared/identity/index.js';

/** Obtains a certificate for a fresh key of `service` (the signer round trip). */
export type IssueWorkload = (service: string) => Promise<MtlsIdentity>;

/**
 * The workload identities of the services on this node: issued by the site's signer, kept on
 * disk (keys 0600) so the data plane keeps its identities across an agent restart while the
 * control plane is down, and renewed at half-life with jitter; a renewal is handed to the
 * proxies, which swap it in without dropping connections.
 */
export class WorkloadIdentities {
  readonly #current = new Map<string, MtlsIdentity>();
  readonly #timers = new Map<string, RenewalTimer>();
  readonly #pending = new Map<string, Promise<MtlsIdentity>>();

  constructor(
    private readonly options: {
      dir: string;
      /** The node's current trust bundle (it follows the trust document). */
      bundle: () => TrustBundle;
      issue: IssueWorkload;
      onRenewed: (service: string, identity: MtlsIdentity) => void;
      log: Logger;
      now?: () => number;
    },
  ) {}

  /** The identity of `service`: from memory, from disk while still good, else freshly issued. */
  get(service: string): Promise<MtlsIdentity> {
    const known = this.#current.get(service) ?? this.#fromDisk(service);
    if (known !== undefined) return Promise.resolve(known);
    let pending = this.#pending.get(service);
    if (pending === undefined) {
      pending = this.#issue(service).finally(() => this.#pending.delete(service));
      this.#pending.set(service, pending);
    }
    return pending;
  }

  /** Forgets a service that left the node (its files stay until overwritten). */
  drop(service: string): void {
    this.#timers.get(service)?.stop();
    this.#timers.delete(service);
    this.#current.delete(service);
  }

  stop(): void {
    for (const timer of this.#timers.values()) timer.stop();
    this.#timers.clear();
  }

  /** A new trust bundle: every identity held now carries it; returns them to hand to the proxies. */
  rebundle(bundle: TrustBundle): Map<string, MtlsIdentity> {
    for (const [service, identity] of this.#current) this.#current.set(service, { ...identity, bundle });
    return new Map(this.#current);
  }

  #paths(service: string): { key: string; cert: string } {
    return { key: join(this.options.dir, `${service}.key`), cert: join(this.options.dir, `${service}.crt`) };
  }

  #fromDisk(service: string): MtlsIdentity | undefined {
    const paths = this.#paths(service);
    if (!existsSync(paths.key) || !existsSync(paths.cert)) return undefined;
    try {
      const identity = { privateKey: readPrivateKey(paths.key), chain: readCertificates(paths.cert), bundle: this.options.bundle() };
      const leaf = identity.chain[0];
      if (leaf === undefined || new Date(leaf.validTo).getTime() <= this.#now()) return undefined;
      this.#adopt(service, identity);
      return identity;
    } catch (error) {
      this.options.log.warn('stored workload identity unreadable; requesting a new one', { service, error: (error as Error).message });
      return undefined;
    }
  }

  async #issue(service: string): Promise<MtlsIdentity> {
    // The node's bundle as of now: one applied while the signer answered replaces what the request was made with.
    const identity = { ...(await this.options.issue(service)), bundle: this.options.bundle() };
    const paths = this.#paths(service);
    writePrivateKey(paths.key, identity.privateKey);
    writeCertificates(paths.cert, identity.chain);
    this.#adopt(service, identity);
    return identity;
  }

  #adopt(service: string, identity: MtlsIdentity): void {
    this.#current.set(service, identity);
    const leaf = identity.chain[0];
    if (leaf === undefined) return;
    let timer = this.#timers.get(service);
    if (timer === undefined) {
      timer = new RenewalTimer({
        renew: () => this.#renew(service),
        onFailed: (error, retryMs) => this.options.log.warn('workload identity renewal failed; retrying', { service, error: error.message, retryMs }),
        ...(this.options.now === undefined ? {} : { now: this.options.now }),
      });
      this.#timers.set(service, timer);
    }
    timer.schedule(leaf);
  }

  async #renew(service: string): Promise<void> {
    const identity = await this.#issue(service);
    this.options.log.info('workload identity renewed', { service, expires: identity.chain[0]?.validTo });
    this.options.onRenewed(service, identity);
  }

  #now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

