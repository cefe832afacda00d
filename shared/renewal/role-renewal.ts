import type { KeyObject, X509Certificate } from 'node:crypto';
import { RenewalTimer, certificateFacts, writeIdentityFiles, type LiveIdentity, type MtlsIdentity, type RenewalPolicy, type TrustBundle } from '../identity/index.js';
import type { Logger } from '../telemetry/index.js';

/** Which role renews: it names the log lines. */
export type RenewingRole = 'agent' | 'gateway' | 'control';

/** Options of {@link startRoleRenewal}. */
export interface RoleRenewalOptions {
  readonly role: RenewingRole;
  readonly live: LiveIdentity;
  /**
   * A new key and chain of the same SPIFFE ID (the signer over NATS, or the site CA held
   * locally); a `bundle` returned too replaces the trust bundle when its roots differ.
   */
  readonly issue: (current: MtlsIdentity) => Promise<{ privateKey: KeyObject; chain: readonly X509Certificate[]; bundle?: TrustBundle }>;
  /** Where a restart reads the identity from: rewritten atomically (0600) before the new identity is used. */
  readonly files?: { readonly keyFile: string; readonly certFile: string };
  /** What an operator does once the certificate expired without renewal (logged once). */
  readonly whenExpired: string;
  readonly log: Logger;
  readonly policy?: RenewalPolicy;
  readonly now?: () => number;
  /** Retry bounds while renewal fails (defaults of RenewalTimer: 1 s doubling to 60 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

/** A role's own certificate renewal, running. */
export interface RoleRenewal {
  /** Renewals done since start. */
  readonly renewals: number;
  /** Whether the certificate the role presents now has expired (renewal failed for too long). */
  expired(): boolean;
  stop(): void;
}

/**
 * Renews a role's own certificate at half-life plus jitter, for as long as the process runs: the
 * new key and chain go to disk first (a restart uses them), then into the live identity, which
 * every TLS server, client and NATS connection of the process follows. While renewal fails it is
 * retried with backoff; once the certificate has expired, that is logged once as an error with
 * what to do.
 */
export function startRoleRenewal(options: RoleRenewalOptions): RoleRenewal {
  const now = (): number => options.now?.() ?? Date.now();
  const leafOf = (identity: MtlsIdentity): X509Certificate | undefined => identity.chain[0];
  const expired = (): boolean => {
    const leaf = leafOf(options.live.current);
    return leaf !== undefined && Date.parse(leaf.validTo) <= now();
  };
  let renewals = 0;
  let expiryReported = false;
  const renew = async (): Promise<void> => {
    const asked = options.live.current;
    const issued = await options.issue(asked);
    const leaf = issued.chain[0];
    if (leaf === undefined) return;
    if (options.files !== undefined) {
      try {
        writeIdentityFiles(options.files, issued);
      } catch (error) {
        // The process keeps running on the new identity either way; only its next start is at risk.
        options.log.error(`${options.role} identity renewed but not written: a restart would use the old files`, { ...options.files, error: (error as Error).message });
      }
    }
    // Only a bundle the issuer brings (not the one asked with) replaces the live one: a trust
    // document applied while the request was in flight must not be reverted by its reply.
    const offered = issued.bundle?.toPem();
    const bundle = issued.bundle !== undefined && offered !== asked.bundle.toPem() && offered !== options.live.current.bundle.toPem() ? { bundle: issued.bundle } : {};
    options.live.replace({ privateKey: issued.privateKey, chain: issued.chain, ...bundle });
    renewals += 1;
    expiryReported = false;
    options.log.info(`${options.role} identity renewed`, { id: certificateFacts(leaf).uris[0], notAfter: new Date(leaf.validTo).toISOString(), renewals });
    timer.schedule(leaf);
  };
  const timer = new RenewalTimer({
    renew,
    onFailed: (error, retryMs) => {
      const leaf = leafOf(options.live.current);
      if (expired() && !expiryReported) {
        expiryReported = true;
        options.log.error(`${options.role} certificate expired and could not be renewed: ${options.whenExpired}`, { notAfter: leaf?.validTo, error: error.message });
      } else {
        options.log.warn(`${options.role} identity renewal failed; retrying`, { error: error.message, retryMs, notAfter: leaf?.validTo });
      }
    },
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.retryMinMs === undefined ? {} : { retryMinMs: options.retryMinMs }),
    ...(options.retryMaxMs === undefined ? {} : { retryMaxMs: options.retryMaxMs }),
  });
  const first = leafOf(options.live.current);
  if (first !== undefined) timer.schedule(first);
  return {
    get renewals() {
      return renewals;
    },
    expired,
    stop: () => timer.stop(),
  };
}
