import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { MeridianError } from '../errors/index.js';
import { TRUST_DOCUMENT_KEY, ownIdentity, trustBucketName, verifyTrustDocument, writeFileAtomic, type LiveIdentity } from '../identity/index.js';
import type { Logger } from '../telemetry/index.js';

/** Options of {@link startTrustWatch}. */
export interface TrustWatchOptions {
  /** The process's NATS connection, once it has one. */
  readonly connection: () => Promise<NatsConnection>;
  readonly site: string;
  readonly live: LiveIdentity;
  /** Rewritten (atomically, 0600) with every applied bundle, so a restart starts from it. */
  readonly bundleFile?: string;
  readonly log: Logger;
  /** Wait before watching again after the bucket was missing or the watch broke (default 2 s). */
  readonly retryMs?: number;
}

/** A trust watch, running. */
export interface TrustWatch {
  /** The version of the last document applied (0: none yet). */
  readonly version: number;
  /** Why the last document was refused, if the last one was. */
  readonly refused: string | undefined;
  stop(): void;
}

/**
 * Follows the site's trust document (`meridian-trust-<site>`, key `bundle`) and applies each
 * valid one to the live identity, so TLS servers, clients, NATS and the workload identities all
 * verify peers with the new roots, and writes it to the bundle file. A document that fails the
 * receiver rules is logged with the reason and changes nothing.
 */
export function startTrustWatch(options: TrustWatchOptions): TrustWatch {
  const abort = new AbortController();
  const state = { version: 0, refused: undefined as string | undefined, stopWatch: undefined as (() => void) | undefined };
  const apply = (value: Uint8Array): void => {
    try {
      const current = options.live.current;
      const { version, bundle } = verifyTrustDocument(value, { site: options.site, bundle: current.bundle, lastVersion: state.version });
      try {
        ownIdentity({ ...current, bundle }, 'trust document /bundle');
      } catch (cause) {
        throw new MeridianError('MERIDIAN_ERR_TRUST_DOCUMENT', `trust document: /bundle does not verify this process's own certificate; applying it would cut it off`, { cause });
      }
      state.version = version;
      state.refused = undefined;
      if (bundle.toPem() === current.bundle.toPem()) return;
      if (options.bundleFile !== undefined) writeFileAtomic(options.bundleFile, bundle.toPem());
      options.live.replace({ bundle });
      options.log.info('trust bundle applied', { version, roots: bundle.roots.length });
    } catch (error) {
      state.refused = (error as Error).message;
      options.log.warn('trust document refused', { code: (error as Partial<MeridianError>).code, error: (error as Error).message });
    }
  };
  const watchOnce = async (): Promise<void> => {
    const nc = await options.connection();
    const kv = await new Kvm(jetstream(nc)).open(trustBucketName(options.site));
    const iterator = await kv.watch({ key: TRUST_DOCUMENT_KEY });
    state.stopWatch = () => iterator.stop();
    if (abort.signal.aborted) iterator.stop();
    for await (const entry of iterator) {
      if (entry.operation === 'PUT') apply(entry.value);
    }
  };
  void (async () => {
    let told: string | undefined;
    while (!abort.signal.aborted) {
      try {
        await watchOnce();
      } catch (error) {
        const message = (error as Error).message;
        // A site whose control service has not published yet has no bucket: said once, not every retry.
        if (message !== told && !abort.signal.aborted) options.log.warn('trust document not followed yet; retrying', { bucket: trustBucketName(options.site), error: message });
        told = message;
      }
      await sleep(options.retryMs ?? 2000, undefined, { ref: false, signal: abort.signal }).catch(() => undefined);
    }
  })();
  return {
    get version() {
      return state.version;
    },
    get refused() {
      return state.refused;
    },
    stop() {
      abort.abort();
      state.stopWatch?.();
    },
  };
}
