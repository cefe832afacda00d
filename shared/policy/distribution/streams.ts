import { setTimeout as sleep } from 'node:timers/promises';
import { JetStreamApiError, RetentionPolicy, StorageType, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isJetStreamNotEnabled, isStreamNotFound, jetStreamDisabledError } from '../../catalog/jetstream-checks.js';
import { MeridianError } from '../../errors/index.js';
import { POLICY_HISTORY, POLICY_STREAM, POLICY_SUBJECT, policyMirrorName } from './layout.js';

const API_TIMEOUT_MS = 5000;
/** JetStream's "stream name already in use with a different configuration": another site created it first. */
const STREAM_NAME_IN_USE = 10058;

/** Options of {@link ensurePolicyStreams}. */
export interface EnsurePolicyOptions {
  /** How long to retry while the supercluster's meta leader settles. Default 20 s. */
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Creates (or opens) the federation's policy origin and `site`'s mirror of it, both placed in the
 * site's own cluster (the origin only if no site created it before: a racing second create loses
 * and the existing origin is kept). Run at site bootstrap: a site cut off from the others cannot
 * create streams, but its mirror keeps the versions it has and catches up after the heal.
 */
export async function ensurePolicyStreams(nc: NatsConnection, site: string, options: EnsurePolicyOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  const placement = nc.info?.cluster === undefined ? {} : { placement: { cluster: site, tags: [] } };
  // The mirror answers from the site's own cluster: a site cut off from the origin's finds it at once.
  if (await exists(nc, policyMirrorName(site))) return;
  await retrying({ deadline, signal: options.signal, what: POLICY_STREAM, nc }, async (jsm) => {
    try {
      await jsm.streams.info(POLICY_STREAM);
      return;
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
    }
    try {
      await jsm.streams.add({ ...originConfig(), ...placement });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
    }
  });
  await retrying({ deadline, signal: options.signal, what: policyMirrorName(site), nc }, async (jsm) => {
    await jsm.streams.add({ ...mirrorConfig(site), ...placement });
  });
}

async function exists(nc: NatsConnection, stream: string): Promise<boolean> {
  try {
    await (await jetstreamManager(nc, { checkAPI: false, timeout: API_TIMEOUT_MS })).streams.info(stream);
    return true;
  } catch {
    return false;
  }
}

/** The origin: the last {@link POLICY_HISTORY} versions, on disk. */
function originConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: POLICY_STREAM,
    subjects: [POLICY_SUBJECT],
    description: 'Meridian policy set of the federation (one message per version)',
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs: POLICY_HISTORY,
    num_replicas: 1,
  };
}

function mirrorConfig(site: string): Partial<StreamConfig> & { name: string } {
  return {
    name: policyMirrorName(site),
    mirror: { name: POLICY_STREAM },
    description: `Meridian policy set, mirrored in site ${site}`,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs: POLICY_HISTORY,
    num_replicas: 1,
  };
}

async function retrying(context: { deadline: number; signal: AbortSignal | undefined; what: string; nc: NatsConnection }, attempt: (jsm: JetStreamManager) => Promise<void>): Promise<void> {
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    if (context.signal?.aborted === true) throw new MeridianError('MERIDIAN_ERR_ABORTED', `creating the stream ${context.what} was aborted`);
    try {
      return await attempt(await jetstreamManager(context.nc, { checkAPI: false, timeout: API_TIMEOUT_MS }));
    } catch (cause) {
      if (isJetStreamNotEnabled(cause)) throw jetStreamDisabledError(`nats://${context.nc.getServer()}`, cause);
      if (Date.now() + delay > context.deadline) {
        throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot create or open the stream ${context.what}: ${(cause as Error).message}`, { cause });
      }
      try {
        await sleep(delay, undefined, context.signal === undefined ? undefined : { signal: context.signal });
      } catch (error) {
        throw new MeridianError('MERIDIAN_ERR_ABORTED', `creating the stream ${context.what} was aborted`, { cause: error });
      }
    }
  }
}
