import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../telemetry/index.js';
import { startRoleRenewal, type RoleRenewal, type RoleRenewalOptions } from './role-renewal.js';
import { startTrustWatch, type TrustWatch } from './trust-watch.js';

/** Options of {@link startRoleCredentials}: the role's renewal, and where its site's trust document is read. */
export interface RoleCredentialsOptions extends RoleRenewalOptions {
  /** The process's NATS connection, once it has one. */
  readonly connection: () => Promise<NatsConnection>;
  readonly site: string;
  /** Rewritten with every applied bundle, so a restart starts from it. */
  readonly bundleFile?: string;
  readonly log: Logger;
}

/** A role's own renewal and trust watch, running. */
export interface RoleCredentials {
  readonly renewal: RoleRenewal;
  readonly trust: TrustWatch;
  stop(): void;
}

/**
 * What every role connected to its site's NATS keeps up: its own certificate renewed (key and
 * chain rewritten on disk) and the site's trust document followed (bundle rewritten on disk).
 */
export function startRoleCredentials(options: RoleCredentialsOptions): RoleCredentials {
  const renewal = startRoleRenewal(options);
  const trust = startTrustWatch({
    connection: options.connection,
    site: options.site,
    live: options.live,
    log: options.log,
    ...(options.bundleFile === undefined ? {} : { bundleFile: options.bundleFile }),
  });
  return {
    renewal,
    trust,
    stop() {
      renewal.stop();
      trust.stop();
    },
  };
}
