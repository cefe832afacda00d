import type { Duplex } from 'node:stream';
import { MeridianError } from '../shared/errors/index.js';
import { assertName, type MtlsIdentity } from '../shared/identity/index.js';
import type { MeshDialer, MeshTarget } from '../shared/mesh/index.js';
import { describeTarget } from './connect-request.js';
import { ownIdentity } from './options.js';
import { PeerSession, isRetryable } from './peer-session.js';
import { refusalError } from './status.js';
import type { GatewayAddress, GatewayDialerOptions } from './types.js';

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
  readonly #gateway: GatewayAddress;
  readonly #expectSite: string;
  readonly #handshakeTimeoutMs: number;
  readonly #responseTimeoutMs: number;
  #identity: MtlsIdentity;
  #session: Promise<PeerSession> | undefined;
  #closed = false;

  constructor(options: GatewayDialerOptions) {
    assertName('GatewayDialer: expectSite', options.expectSite);
    ownIdentity(options.identity, 'GatewayDialer: identity');
    this.#gateway = options.gateway;
    this.#expectSite = options.expectSite;
    this.#identity = options.identity;
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
    let answer;
    try {
      answer = await (await this.#acquire()).request(target, this.#responseTimeoutMs, signal);
    } catch (error) {
      // The gateway closed the session under this request (idle close, drain): one retry on a fresh session.
      if (!isRetryable(error)) throw error;
      answer = await (await this.#acquire()).request(target, this.#responseTimeoutMs, signal);
    }
    if (answer.status === 200) return answer.stream;
    answer.stream.close();
    const reason = answer.reason ?? `gateway answered ${answer.status}`;
    throw refusalError(answer.status, `${describeTarget(target)}: ${reason}`, { target: describeTarget(target) });
  }

  /** Renews the agent's credential: the next session presents it; the open one continues. */
  setIdentity(identity: MtlsIdentity): void {
    ownIdentity(identity, 'GatewayDialer.setIdentity: identity');
    this.#identity = identity;
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
    if (peer === undefined || peer.session.destroyed) return;
    const closed = new Promise<void>((resolve) => peer.session.once('close', () => resolve()));
    peer.session.close();
    const bound = setTimeout(() => peer.session.destroy(), timeoutMs);
    await closed;
    clearTimeout(bound);
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
    const site = this.#expectSite;
    return PeerSession.open({
      address: this.#gateway,
      identity: this.#identity,
      expect: (peer) => peer.kind === 'gateway' && peer.site === site,
      servername: `gateway.${site}.mesh`,
      handshakeTimeoutMs: this.#handshakeTimeoutMs,
      maxConcurrentStreams: INITIAL_STREAM_LIMIT,
    });
  }
}
