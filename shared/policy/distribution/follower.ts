import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../telemetry/index.js';
import { LivePolicy, NO_POLICY, enforcedPolicy, type PolicyLatest, type PolicyReport } from '../live.js';
import { parsePolicySet } from '../parse.js';
import { savePolicyCopy, loadPolicyCopyOrSetAside } from './copy.js';
import { policyMirrorName } from './layout.js';
import { decodePolicyRecord } from './record.js';

/** Options of {@link startPolicyFollower}. */
export interface PolicyFollowerOptions {
  /** The process's NATS connection, once it has one. */
  readonly connection: () => Promise<NatsConnection>;
  /** The site whose mirror is followed. */
  readonly site: string;
  readonly trustDomain: string;
  /** The on-disk copy (`<dataDir>/policy.json`). */
  readonly file: string;
  /** The handle to update (default a new one from NO_POLICY). */
  readonly policy?: LivePolicy;
  readonly log: Logger;
  /** Wait before following again after the mirror was missing or the consumer broke (default 1 s). */
  readonly retryMs?: number;
}

/** A running follower. */
export interface PolicyFollower {
  readonly policy: LivePolicy;
  /** The version enforced and the newest version refused, with why. */
  report(): PolicyReport;
  /** The newest version the site's mirror delivered (enforced or refused) and when it was applied; null before any. */
  latest(): PolicyLatest | null;
  stop(): void;
}

/**
 * Keeps `policy` on the newest version of the federation's policy set: first the on-disk copy,
 * read synchronously (a process restarted while cut off enforces its last version before NATS
 * answers; an unusable copy is set aside), then the site's mirror, followed from its last message
 * by an ordered consumer re-created after every reconnect. Each version is parsed again here: one
 * that does not parse is reported (`report().rejected`) and the version enforced stays. Versions
 * at or below the one enforced are ignored: it never goes back.
 */
export function startPolicyFollower(options: PolicyFollowerOptions): PolicyFollower {
  const { log } = options;
  const policy = options.policy ?? new LivePolicy(NO_POLICY, { onListenerError: (error) => log.error('policy change not applied everywhere', { error: error.message }) });
  const copy = loadPolicyCopyOrSetAside(options.file, options.trustDomain, (movedTo, error) =>
    log.warn('policy copy unreadable: set aside, the policy comes from NATS', { file: options.file, movedTo, error: error.message }),
  );
  if (copy !== null && policy.replace(copy)) log.info('policy enforced from the on-disk copy', { version: copy.version, file: options.file });
  let rejected: PolicyReport['rejected'] = null;
  let latest: PolicyLatest | null = null;
  const accept = (data: Uint8Array, version: number): void => {
    const current = policy.current.version;
    if (current !== null && version <= current) return;
    let record;
    let next;
    try {
      record = decodePolicyRecord(data, version);
      latest = { version, appliedAt: record.appliedAt };
      next = enforcedPolicy(parsePolicySet(record.sources, { trustDomain: options.trustDomain }), version);
    } catch (error) {
      rejected = { version, reason: (error as Error).message };
      log.warn('policy version rejected: the version enforced stays', { version, enforced: current, error: rejected.reason });
      return;
    }
    policy.replace(next);
    if (rejected !== null && rejected.version < version) rejected = null;
    log.info('policy version enforced', { version, digest: next.digest });
    try {
      savePolicyCopy(options.file, record);
    } catch (error) {
      log.warn('policy copy not saved; a restart while cut off would start from an older copy', { file: options.file, error: (error as Error).message });
    }
  };
  const follow = startFollowing(options, accept);
  return {
    policy,
    report: () => ({ version: policy.current.version, rejected }),
    latest: () => latest,
    stop: () => follow.stop(),
  };
}

/** The consumer loop: one ordered consumer at a time, from the mirror's last message, again after each reconnect or failure. */
function startFollowing(options: PolicyFollowerOptions, accept: (data: Uint8Array, version: number) => void): { stop(): void } {
  const abort = new AbortController();
  let stopCurrent: (() => void) | undefined;
  const stream = policyMirrorName(options.site);
  const followOnce = async (): Promise<void> => {
    const nc = await options.connection();
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.Last });
    const messages = await consumer.consume();
    const status = nc.status()[Symbol.asyncIterator]();
    const stopStatus = (): void => void status.return?.();
    stopCurrent = () => {
      void messages.close();
      stopStatus();
    };
    if (abort.signal.aborted) stopCurrent();
    void (async () => {
      // A reconnect may come back to another server of the site: a fresh consumer there.
      for (let event = await status.next(); event.done !== true; event = await status.next()) {
        if (event.value.type === 'reconnect') stopCurrent?.();
      }
    })();
    try {
      for await (const message of messages) accept(message.data, message.seq);
    } finally {
      stopStatus();
    }
  };
  void (async () => {
    let told: string | undefined;
    while (!abort.signal.aborted) {
      try {
        await followOnce();
        told = undefined;
      } catch (error) {
        const message = (error as Error).message;
        if (message !== told && !abort.signal.aborted) options.log.warn('policy not followed yet; retrying', { stream, error: message });
        told = message;
      }
      await sleep(options.retryMs ?? 1000, undefined, { ref: false, signal: abort.signal }).catch(() => undefined);
    }
  })();
  return {
    stop() {
      abort.abort();
      stopCurrent?.();
    },
  };
}
