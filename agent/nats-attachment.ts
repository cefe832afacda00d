import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import {
  FederatedView,
  SiteCatalogWriter,
  assertJetStream,
  ensureSiteBucket,
  explainKvWriteFailure,
  siteConnectOptions,
  startLeaseReaper,
  statusBucketName,
} from '../shared/catalog/index.js';
import { MeridianError, isMeridianError } from '../shared/errors/index.js';
import { readText, type MtlsIdentity } from '../shared/identity/index.js';
import { startStatusPublisher, type AgentStatus, type StatusPublisher } from '../shared/status/index.js';
import type { Logger } from '../shared/telemetry/index.js';
import type { AgentConfig } from './config.js';
import type { Registrar } from './registration/registrar.js';

/** One dial of the site's NATS (TCP, TLS, CONNECT) is given up after this. */
const CONNECT_TIMEOUT_MS = 5_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 2_000;
/** A stopping agent waits this long for its NATS writes to flush, then closes. */
const DRAIN_MS = 2_000;
/** While NATS stays unreachable, one warning per this many failed dials. */
const WARN_EVERY = 30;

/** What the NATS side attaches once the site's NATS answers. */
export interface NatsAttachmentParts {
  readonly view: FederatedView;
  readonly registrar: Registrar;
  readonly heartbeatMs: number;
  readonly statusIntervalMs: number;
  readonly collectStatus: () => AgentStatus;
  readonly log: Logger;
}

/**
 * The agent's NATS side. It dials the site's NATS until it answers (nats.js reconnects on its own
 * only once a first connection succeeded), checks that JetStream is there, then attaches the
 * view, the registrar, a lease reaper and the status reports. All of it stops at once on
 * close(): an agent stopping while NATS is unreachable does not wait for a retry to run out.
 */
export class NatsAttachment {
  /** The attached connection (undefined until attached). */
  nc: NatsConnection | undefined;
  readonly #config: AgentConfig;
  readonly #parts: NatsAttachmentParts;
  readonly #abort = new AbortController();
  readonly #attached: Promise<NatsConnection>;
  readonly #contact: Promise<void>;
  #contacted: ((error?: Error) => void) | undefined;
  /** The connection being attached, closed by close() even before it is attached. */
  #dialled: NatsConnection | undefined;
  #reaper: { stop(): void } | undefined;
  #status: StatusPublisher | undefined;

  /** `identity` is read at every (re)connect: a renewed certificate or a new bundle applies to the next one. */
  constructor(config: AgentConfig, identity: () => MtlsIdentity, parts: NatsAttachmentParts) {
    this.#config = config;
    this.#parts = parts;
    const password = readText(config.nats.passwordFile, 'NATS password').trim();
    const options = siteConnectOptions({ servers: config.nats.url, site: config.site, password, identity, name: `meridian-agent-${config.node}` });
    this.#contact = new Promise<void>((resolve, reject) => {
      this.#contacted = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.#contact.catch(() => undefined);
    this.#attached = this.#run({ ...options, timeout: CONNECT_TIMEOUT_MS });
    this.#attached.catch(() => undefined);
  }

  /**
   * Settles on the first answer: resolves once the site's NATS answered with JetStream, turned
   * out unreachable (the agent then serves its last-known catalog and keeps dialling), or
   * `boundMs` passed; rejects when it answered without JetStream, or when `signal` aborts.
   */
  async firstContact(boundMs: number, signal?: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#parts.log.warn('NATS has not answered yet: serving the last-known catalog meanwhile', { nats: this.#config.nats.url, waitedMs: boundMs });
        resolve();
      }, boundMs);
    });
    try {
      await untilAborted(Promise.race([this.#contact, bound]), signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The connection, once attached (workload certificates need the site's signer). */
  connection(): Promise<NatsConnection> {
    return this.#attached;
  }

  /** `graceful`: the node's status record is removed (a stopped agent is not a missing one). */
  async close(graceful: boolean): Promise<void> {
    this.#abort.abort();
    await this.#status?.stop({ remove: graceful });
    this.#reaper?.stop();
    const nc = this.nc ?? this.#dialled;
    if (nc === undefined || nc.isClosed()) return;
    if (nc === this.nc) await Promise.race([nc.drain().catch(() => undefined), sleep(DRAIN_MS, undefined, { ref: false })]);
    await nc.close().catch(() => undefined);
  }

  async #run(options: ConnectionOptions): Promise<NatsConnection> {
    for (let failures = 0; ; failures++) {
      const nc = await this.#dial(options, failures);
      if (nc !== undefined) {
        try {
          return await this.#attach(nc);
        } catch (error) {
          await nc.close().catch(() => undefined);
          this.#failed(error as Error);
        }
      }
      const delay = Math.min(RETRY_MIN_MS * 2 ** failures, RETRY_MAX_MS);
      await untilAborted(sleep(delay, undefined, { ref: false }), this.#abort.signal);
    }
  }

  /** One dial; undefined when NATS did not answer (told once, then now and then). */
  async #dial(options: ConnectionOptions, failures: number): Promise<NatsConnection | undefined> {
    try {
      this.#dialled = await untilAborted(connect(options), this.#abort.signal, (late) => void late.close());
      return this.#dialled;
    } catch (error) {
      if (this.#abort.signal.aborted) throw error;
      if (failures % WARN_EVERY === 0) {
        this.#parts.log.warn('NATS is not reachable: serving the last-known catalog, retrying', { nats: this.#config.nats.url, error: (error as Error).message, attempts: failures + 1 });
      }
      this.#contacted?.();
      return undefined;
    }
  }

  async #attach(nc: NatsConnection): Promise<NatsConnection> {
    const config = this.#config;
    const parts = this.#parts;
    await assertJetStream(nc, config.nats.url);
    this.#contacted?.();
    const kv = await ensureSiteBucket(nc, config.site, { deadlineMs: 60_000, signal: this.#abort.signal });
    if (this.#abort.signal.aborted) throw new MeridianError('MERIDIAN_ERR_ABORTED', 'the agent stopped while attaching to NATS');
    const writer = new SiteCatalogWriter(kv, config.site);
    parts.view.connect(nc);
    parts.registrar.attach(writer);
    this.#reaper = startLeaseReaper({ view: parts.view, writer, intervalMs: parts.heartbeatMs });
    this.#status = startStatusPublisher({
      nc,
      site: config.site,
      intervalMs: parts.statusIntervalMs,
      collect: parts.collectStatus,
      onError: (error) => void explainKvWriteFailure(nc, statusBucketName(config.site), error).then((explained) => parts.log.warn('status report failed', { error: explained.message })),
      log: parts.log,
    });
    this.nc = nc;
    parts.log.info('attached to the site catalog', { site: config.site, nats: config.nats.url });
    return nc;
  }

  /** An attach failed: fatal when it is the first answer and there is no JetStream, else told and retried. */
  #failed(error: Error): void {
    if (this.#abort.signal.aborted) throw error;
    const contacted = this.#contacted;
    if (isMeridianError(error, 'MERIDIAN_ERR_JETSTREAM_DISABLED') && contacted !== undefined) {
      // Settle the first contact with the error before anything else marks it answered.
      this.#contacted = undefined;
      contacted(error);
    }
    this.#parts.log.error('cannot attach to NATS', { nats: this.#config.nats.url, code: (error as Partial<MeridianError>).code, error: error.message });
  }
}

/**
 * `promise`, or MERIDIAN_ERR_ABORTED as soon as `signal` aborts; a value that arrives after the
 * abort goes to `onLate` (a connection that must be closed).
 */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, onLate?: (value: T) => void): Promise<T> {
  if (signal === undefined) return promise;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new MeridianError('MERIDIAN_ERR_ABORTED', 'agent start or NATS attach aborted', { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([promise, aborted]);
  } catch (error) {
    if (signal.aborted && onLate !== undefined) promise.then(onLate, () => undefined);
    throw error;
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
