import type { NatsConnection } from '@nats-io/transport-node';
import type { LiveIdentity, PkiDirectory, SiteAuthority } from '../../../shared/identity/index.js';
import { LivePolicy } from '../../../shared/policy/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import { startJoinEndpoint, type JoinTimeouts } from './endpoint.js';
import type { FailureLimits } from './rate-limit.js';
import { ensureJoinBucket } from './token-store.js';

/** Where and how the join endpoint listens (`join` in the site config). */
export interface JoinServiceConfig {
  /** Default 127.0.0.1: exposing the endpoint to the nodes' network is an explicit choice. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Lifetime of the agent certificates issued at join (default 24 h). */
  readonly agentTtlMs?: number;
  readonly limits?: Partial<FailureLimits>;
  readonly timeouts?: Partial<JoinTimeouts>;
}

/** Options of {@link startJoinService}. */
export interface JoinServiceOptions {
  readonly nc: NatsConnection;
  readonly pki: PkiDirectory;
  readonly site: string;
  readonly identity: LiveIdentity;
  /** The site CA it issues with, as it is now (a renewed site CA takes over at once). */
  readonly authority: () => SiteAuthority;
  /** Absent: the control service serves no join endpoint. */
  readonly join: JoinServiceConfig | undefined;
  /** The policy in force: a node whose agent identity is revoked is refused. Default: nothing revoked. */
  readonly policy?: LivePolicy;
  readonly log: Logger;
}

/** A running join endpoint (url undefined when none is configured). */
export interface JoinService {
  readonly url: string | undefined;
  stop(): Promise<void>;
}

/**
 * The control service's join side: nodes exchange a single-use token (from `meridian token
 * create`) and a CSR for their agent certificate, the trust bundle and the site's NATS password.
 */
export async function startJoinService(options: JoinServiceOptions): Promise<JoinService> {
  const { join, pki, site } = options;
  // The bucket exists either way: `meridian token create` writes to it, and the bucket keeper expects it.
  const kv = await ensureJoinBucket(options.nc, site);
  if (join === undefined) return { url: undefined, stop: () => Promise.resolve() };
  // Pinned passwords survive a re-keyed site CA: derived anew, they would lock the joined agents out.
  const natsPassword = pki.siteNatsPasswords(site).agent;
  const endpoint = await startJoinEndpoint({
    host: join.host ?? '127.0.0.1',
    port: join.port,
    identity: options.identity,
    authority: options.authority,
    kv,
    natsPassword,
    policy: options.policy ?? new LivePolicy(),
    log: options.log,
    ...(join.agentTtlMs === undefined ? {} : { agentTtlMs: join.agentTtlMs }),
    ...(join.limits === undefined ? {} : { limits: join.limits }),
    ...(join.timeouts === undefined ? {} : { timeouts: join.timeouts }),
  });
  options.log.info('join endpoint listening', { site, url: endpoint.url });
  return { url: endpoint.url, stop: () => endpoint.close() };
}
