import type { NatsConnection } from '@nats-io/transport-node';
import { explainKvWriteFailure, statusBucketName, type FederatedView } from '../../shared/catalog/index.js';
import { ControlMetrics, createRegistry, exposition, type Logger } from '../../shared/telemetry/index.js';
import { NO_POLICY, type LivePolicy, type PolicyReport } from '../../shared/policy/index.js';
import {
  StatusBoard,
  catalogStatus,
  reportAgeMs,
  startStatusPublisher,
  ensureStatusBucket,
  openStatusBucket,
  NO_POLICY_REPORT,
  permissiveServices,
  policyFields,
  type CertificateStatus,
  type ControlStatus,
  type PolicyLatest,
  type StatusPublisher,
} from '../../shared/status/index.js';
import { federationStatus } from './aggregate.js';
import { startStatusApi, type StatusApi, type StatusApiOptions } from './api.js';
import type { FederationStatus } from './schema.js';

/** Records of the own site silent this long are removed: a crashed node that never came back. */
export const PRUNE_AFTER_MS = 10 * 60 * 1000;

/** Options of {@link startFederationStatus}. */
export interface FederationStatusOptions {
  readonly nc: NatsConnection;
  readonly site: string;
  readonly region: string;
  readonly platform: string;
  readonly view: FederatedView;
  /** The control service's own certificates (site CA, its identity). */
  readonly certificates: () => readonly CertificateStatus[];
  readonly intervalMs: number;
  /** Serve the status API; absent: the service only reports and follows. */
  readonly api?: Omit<StatusApiOptions, 'status' | 'version'>;
  readonly version: string;
  readonly log: Logger;
  /** The policy version this control service enforces and the last it refused (its policy follower); absent: none published. */
  readonly policy?: () => PolicyReport;
  /** The policy it enforces, for the revocations in force and the permissive services it reports; absent: none published. */
  readonly livePolicy?: LivePolicy;
  /** The newest policy version the site holds (its mirror) and when it was applied; absent or null: none published. */
  readonly policyLatest?: () => PolicyLatest | null;
  /** How long a site may lag the newest policy version before the status says error. Default 30 s. */
  readonly policyLagBoundMs?: number;
}

/** A control service's status side. */
export interface FederationStatusService {
  readonly board: StatusBoard;
  readonly api: StatusApi | undefined;
  status(): FederationStatus;
  stop(): Promise<void>;
}

/** Deletes the own site's records that stopped long ago; the site's control service owns its bucket's hygiene. */
async function prune(options: FederationStatusOptions, board: StatusBoard): Promise<void> {
  const now = Date.now();
  const dead = board.entries().filter((e) => e.record.site === options.site && e.record.kind !== 'control' && reportAgeMs(e, now) > PRUNE_AFTER_MS);
  if (dead.length === 0) return;
  const kv = await openStatusBucket(options.nc, options.site, 3_000);
  for (const entry of dead) await kv.delete(entry.key);
}

/** Builds the control service's own record at each tick: its catalog view, certificates and policy. */
function controlCollector(options: FederationStatusOptions, startedAt: string): () => ControlStatus {
  return () => {
    const enforced = options.livePolicy?.current ?? NO_POLICY;
    return {
      kind: 'control',
      name: options.site,
      site: options.site,
      region: options.region,
      platform: options.platform,
      at: '',
      startedAt,
      intervalMs: options.intervalMs,
      certificates: options.certificates(),
      ...policyFields(options.policy),
      catalog: catalogStatus(options.view),
      policyLatest: options.policyLatest?.() ?? null,
      policyPermissive: permissiveServices(enforced),
      policyRevocations: enforced.revocations.size,
    };
  };
}

/**
 * Reports this control service (its site's catalog as seen from here, its certificates), follows
 * every site's status bucket, and serves the federation status computed from both.
 */
export async function startFederationStatus(options: FederationStatusOptions): Promise<FederationStatusService> {
  const { site, view } = options;
  const board = new StatusBoard(options.nc, { onError: (s, error) => options.log.warn('status watch interrupted', { site: s, error: error.message }) });
  // The own bucket first: on a site's first start, watching it before it exists is a false alarm.
  await ensureStatusBucket(options.nc, site);
  board.start([site]);
  const startedAt = new Date().toISOString();
  const publisher: StatusPublisher = startStatusPublisher({
    nc: options.nc,
    site,
    intervalMs: options.intervalMs,
    collect: controlCollector(options, startedAt),
    onError: (error) => void explainKvWriteFailure(options.nc, statusBucketName(site), error).then((explained) => options.log.warn('status report failed', { error: explained.message })),
    log: options.log,
  });
  const pruner = setInterval(() => {
    prune(options, board).catch((error: unknown) => options.log.warn('status prune failed', { error: (error as Error).message }));
  }, options.intervalMs * 10);
  pruner.unref();
  const lagBound = options.policyLagBoundMs === undefined ? {} : { policyLagBoundMs: options.policyLagBoundMs };
  const status = (): FederationStatus => federationStatus({ site, entries: board.entries(), catalog: catalogStatus(view), now: Date.now(), ...lagBound });
  const metrics = new ControlMetrics(createRegistry({ role: 'control', site, name: site }), {
    certificates: options.certificates,
    catalog: () => catalogStatus(view),
    policy: options.policy ?? (() => NO_POLICY_REPORT),
  });
  const stopReporting = async (): Promise<void> => {
    clearInterval(pruner);
    // The record stays: a control service that stopped is exactly what the others must see.
    await publisher.stop();
    board.close();
  };
  let api: StatusApi | undefined;
  try {
    api = options.api === undefined ? undefined : await startStatusApi({ ...options.api, status, metrics: () => exposition(metrics.registry), version: options.version });
  } catch (error) {
    // A status port that is taken fails the start: nothing of it may keep reporting.
    await stopReporting();
    throw error;
  }
  return {
    board,
    api,
    status,
    async stop() {
      await api?.close();
      await stopReporting();
    },
  };
}
