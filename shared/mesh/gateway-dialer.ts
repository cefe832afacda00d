import type { Duplex } from 'node:stream';
import { MeridianError } from '../errors/index.js';
import { assertName, ownIdentity, type MtlsIdentity } from '../identity/index.js';
import { describeTarget } from './connect-request.js';
import type { GatewayAddress, MeshDialer, MeshTarget } from './contracts.js';
import { PeerSession, closeSession, requestWithRetry } from './peer-session.js';
import { refusalError } from './refusal.js';

/** Options of {@link GatewayDialer}. */
export interface GatewayDialerOptions {
  /** The site's own gateway. */
  readonly gateway: GatewayAddress;
  /**
   * The node agent's credential (`spiffe://<td>/site/<site>/agent/<node>`), read at every dial so
   * a renewed certificate applies to the next session while the open one continues.
   */
  readonly identity: () => MtlsIdentity;
  /** The agent's site: the gateway must present a `gateway` identity of exactly this site. */
  readonly expectSite: string;
  /** Bound for the TLS handshake; default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** Bound for the gateway's answer to a CONNECT (it includes the far side's connect); default 10000. */
  readonly responseTimeoutMs?: number;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
const DEFAULT_RESPONSE_TIMEOUT_MS = 10_000;
/** Streams an agent may multiplex on its session before the gateway's SETTINGS say otherwise. */
const INITIAL_STREAM_LIMIT = 1000;

/**
 * The agent side of the cross-site path: one HTTP/2 session to the site's own gateway (which must
 * present a `gateway` identity of the agent's site), re-dialled on demand once it has failed or
 * been told to go away. `dial` resolves with the CONNECT stream after the gateway answered 200; the
 * caller runs its workload's TLS inside it.
 */
export class GatewayDialer implements MeshDialer {
  readonly #options: GatewayDialerOptions;
  readonly #handshakeTimeoutMs: number;
  readonly #responseTimeoutMs: number;
  #session: Promise<PeerSession> | undefined;
  #closed = false;

  constructor(options: GatewayDialerOptions) {
    assertName('GatewayDialer: expectSite', options.expectSite);
    ownIdentity(options.identity(), 'GatewayDialer: identity');
    this.#options = options;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
  }

  /**
   * Opens a stream to `target` through the gateway. Rejects with a MeridianError whose code follows
   * the gateway's status (FORBIDDEN, NOT_FOUND, UNAVAILABLE, BAD_GATEWAY, TIMEOUT) and whose
   * `details` hold `status` and `reason`; with UNAVAILABLE when the gateway cannot be reached.
   */
  async dial(target: MeshTarget, signal?: AbortSignal): Promise<Duplex> {
    if (this.#closed) throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', 'GatewayDialer is closed');
    signal?.throwIfAborted();
    const answer = await requestWithRetry(() => this.#acquire(), target, this.#responseTimeoutMs, signal);
    if (answer.status === 200) return answer.stream;
    answer.stream.close();
    const reason = answer.reason ?? `gateway answered ${answer.status}`;
    throw refusalError(answer.status, `${describeTarget(target)}: ${reason}`, { target: describeTarget(target) });
  }

  /**
   * Refuses new dials and closes the session gracefully: open streams may finish for up to
   * `timeoutMs` (default 5000), then the session and what is left on it are destroyed.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    const pending = this.#session;
    this.#session = undefined;
    const peer = await pending?.catch(() => undefined);
    if (peer !== undefined) await closeSession(peer.session, timeoutMs);
  }

  async #acquire(): Promise<PeerSession> {
    const pending = this.#session;
    if (pending !== undefined) {
      const peer = await pending.catch(() => undefined);
      if (peer?.usable === true) return peer;
      // Only the caller that still sees the failed session replaces it; concurrent dials share the new one.
      if (this.#session === pending) this.#session = undefined;
    }
    this.#session ??= this.#open();
    return this.#session;
  }

  #open(): Promise<PeerSession> {
    const site = this.#options.expectSite;
    return PeerSession.open({
      address: this.#options.gateway,
      identity: this.#options.identity(),
      expect: (peer) => peer.kind === 'gateway' && peer.site === site,
      servername: `gateway.${site}.mesh`,
      handshakeTimeoutMs: this.#handshakeTimeoutMs,
      maxConcurrentStreams: INITIAL_STREAM_LIMIT,
    });
  }
}
