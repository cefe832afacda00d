import { MeridianError } from '../shared/errors/index.js';
import type { MtlsIdentity } from '../shared/identity/index.js';
import type { EnforcedPolicy, RevocationSubject } from '../shared/policy/index.js';
import type { TLSSocket } from 'node:tls';
import { type MeshTarget, PeerSession, requestWithRetry, type ConnectAnswer } from '../shared/mesh/index.js';
import type { ResolvedGatewayOptions } from './options.js';
import { peerLeafSubject, revocationReason } from './revocation.js';
import type { LinkState, LinkStatus } from './types.js';

/** What a tunnel needs from its gateway. */
export interface LinkContext {
  readonly site: string;
  /** The current credential: read at every dial, so a renewal applies to the next session. */
  readonly identity: () => MtlsIdentity;
  readonly options: ResolvedGatewayOptions;
}

/**
 * The persistent, multiplexed tunnel to one remote site's gateway. It keeps one usable HTTP/2
 * session, dials a replacement when that session fails (exponential backoff with jitter) or is
 * told to go away (at once; the old session keeps serving its open streams until they end), and
 * probes it with PINGs: a PING left unanswered destroys the session, which is then re-dialled.
 */
export class TunnelLink {
  readonly site: string;
  readonly #context: LinkContext;
  #state: LinkState = 'connecting';
  #since = new Date();
  #current: PeerSession | undefined;
  /** Every session still open (the current one and those draining), with the remote gateway's leaf it was made with. */
  readonly #sessions = new Map<PeerSession, RevocationSubject>();
  readonly #waiters = new Set<() => void>();
  #failures = 0;
  #lastError: string | undefined;
  #rttMs: number | undefined;
  #lastHeartbeat: Date | undefined;
  #streams = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #dialing = false;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #lastDialAt = 0;
  #pingInFlight = false;

  constructor(context: LinkContext) {
    this.site = context.site;
    this.#context = context;
  }

  /** Dials the first session and starts the heartbeat. */
  start(): void {
    this.#pingTimer = setInterval(() => this.#ping(), this.#context.options.pingIntervalMs).unref();
    this.#dial();
  }

  /**
   * Opens a CONNECT stream for `target` over the tunnel. Waits up to `timeoutMs` while the tunnel
   * is being dialled; fails fast with the last error while it is down.
   */
  async open(target: MeshTarget, timeoutMs: number, signal?: AbortSignal): Promise<ConnectAnswer> {
    const answer = await requestWithRetry(() => this.#acquire(timeoutMs), target, timeoutMs, signal);
    this.#streams += 1;
    answer.stream.once('close', () => {
      this.#streams -= 1;
    });
    return answer;
  }

  /** Relayed bytes, counted by whoever relays the link's streams. */
  countIn(bytes: number): void {
    this.#bytesIn += bytes;
  }

  countOut(bytes: number): void {
    this.#bytesOut += bytes;
  }

  status(): LinkStatus {
    return {
      site: this.site,
      state: this.#state,
      since: this.#since,
      rttMs: this.#rttMs,
      lastHeartbeat: this.#lastHeartbeat,
      streams: this.#streams,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  /**
   * Stops dialling. Graceful: each session sends GOAWAY and ends once its streams have; otherwise
   * every session (and its streams) is destroyed. Resolves when every session is closed.
   */
  close(graceful: boolean): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearTimeout(this.#retryTimer);
      clearInterval(this.#pingTimer);
      this.#current = undefined;
      this.#lastError = 'the gateway is draining';
      this.#setState('down');
    }
    const sessions = [...this.#sessions.keys()];
    const closed = sessions.map((peer) => new Promise<void>((resolve) => {
      if (peer.session.closed && peer.session.destroyed) resolve();
      else peer.session.once('close', () => resolve());
    }));
    for (const peer of sessions) {
      if (graceful) peer.session.close();
      else peer.session.destroy();
    }
    return Promise.all(closed).then(() => undefined);
  }

  /**
   * Cuts every session whose remote gateway `policy` revokes; the link then re-dials with backoff,
   * and each new session to a gateway still revoked is cut at its handshake ({@link #opened}).
   */
  revoke(policy: EnforcedPolicy): void {
    for (const [peer, leaf] of this.#sessions) {
      const reason = revocationReason(policy, leaf);
      if (reason === undefined) continue;
      this.#context.options.logger.warn('tunnel closed: remote gateway revoked', { site: this.site, reason });
      peer.session.destroy(new MeridianError('MERIDIAN_ERR_REVOKED', `gateway of site ${this.site}: ${reason}`));
    }
  }

  async #acquire(timeoutMs: number): Promise<PeerSession> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed) throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `tunnel to site ${this.site} is closed: the gateway is draining`);
      const current = this.#current;
      if (this.#state === 'up' && current?.usable === true) return current;
      if (this.#state === 'down') {
        // A link that just went down is most often a restarting peer: wait for the next dial (and
        // dial now rather than at the end of the backoff). One down for longer fails fast.
        if (Date.now() - this.#since.getTime() >= this.#context.options.holdWhileDownMs) {
          throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `tunnel to site ${this.site} is down since ${this.#since.toISOString()}: ${this.#lastError ?? 'unknown error'}`);
        }
        this.#dialOnDemand();
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new MeridianError('MERIDIAN_ERR_TIMEOUT', `tunnel to site ${this.site} not up within ${timeoutMs} ms`);
      await this.#changed(left);
    }
  }

  #changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #setState(state: LinkState): void {
    if (this.#state !== state) {
      this.#state = state;
      this.#since = new Date();
      const status = this.status();
      this.#context.options.logger[state === 'down' ? 'warn' : 'info']('tunnel state', { site: this.site, state, lastError: status.lastError });
      try {
        this.#context.options.onLinkChange(status);
      } catch (error) {
        this.#context.options.logger.error('onLinkChange failed', { site: this.site, error: (error as Error).message });
      }
    }
    this.#wake();
  }

  /** Brings the next dial forward, at most once per initial backoff, so a burst of streams cannot hammer a dead peer. */
  #dialOnDemand(): void {
    if (this.#closed || this.#dialing || this.#retryTimer === undefined) return;
    if (Date.now() - this.#lastDialAt < this.#context.options.backoffInitialMs) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#dial();
  }

  #dial(): void {
    if (this.#closed || this.#dialing) return;
    this.#lastDialAt = Date.now();
    const { options } = this.#context;
    let address;
    try {
      // Read at every dial: the remote gateway may have moved since the last session.
      address = options.resolver.gatewayFor(this.site);
    } catch (error) {
      this.#failed(`resolver failed for site ${this.site}: ${(error as Error).message}`);
      return;
    }
    if (address === undefined) {
      this.#failed(`no gateway address known for site ${this.site}`);
      return;
    }
    this.#dialing = true;
    PeerSession.open({
      address,
      identity: this.#context.identity(),
      // Only the gateway of exactly the target site may carry its streams.
      expect: (peer) => peer.kind === 'gateway' && peer.site === this.site,
      servername: `gateway.${this.site}.mesh`,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxConcurrentStreams: options.maxConcurrentStreams,
    }).then(
      (peer) => this.#opened(peer),
      (error: Error) => this.#failed(error.message),
    );
  }

  #opened(peer: PeerSession): void {
    this.#dialing = false;
    if (this.#closed) {
      peer.session.destroy();
      return;
    }
    let leaf: RevocationSubject;
    try {
      leaf = peerLeafSubject(peer.session.socket as TLSSocket);
    } catch (error) {
      peer.session.destroy();
      this.#failed(`gateway of site ${this.site}: ${(error as Error).message}`);
      return;
    }
    // Judged at every handshake: a gateway revoked while the link was down is not dialled back in.
    const revoked = revocationReason(this.#context.options.policy.current, leaf);
    if (revoked !== undefined) {
      peer.session.destroy();
      this.#failed(`gateway of site ${this.site}: ${revoked}`);
      return;
    }
    this.#sessions.set(peer, leaf);
    this.#current = peer;
    peer.session.on('goaway', () => this.#retire(peer));
    peer.session.once('close', () => this.#ended(peer));
    // The link counts as up only once the peer answers a PING: a TLS 1.3 client finishes its
    // handshake before the server has checked the client's certificate.
    this.#ping();
  }

  /** The peer wants no new streams on this session (draining or refusing us): replace it. */
  #retire(peer: PeerSession): void {
    if (this.#current !== peer || this.#closed) return;
    this.#current = undefined;
    if (peer.refusal !== undefined) {
      this.#failed(`gateway of site ${this.site} refused the tunnel: ${peer.refusal}`);
      return;
    }
    this.#lastError = `gateway of site ${this.site} sent GOAWAY`;
    if (this.#state === 'up') this.#setState('connecting');
    this.#dial();
  }

  #ended(peer: PeerSession): void {
    this.#sessions.delete(peer);
    if (this.#current !== peer || this.#closed) return;
    this.#current = undefined;
    this.#failed(peer.endReason ?? 'session closed');
  }

  #failed(reason: string): void {
    this.#dialing = false;
    this.#failures += 1;
    this.#lastError = reason;
    this.#setState('down');
    if (this.#closed || this.#retryTimer !== undefined) return;
    const { backoffInitialMs, backoffMaxMs } = this.#context.options;
    const base = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(this.#failures - 1, 30));
    // Jitter keeps every gateway of a federation from re-dialling a recovered peer in lockstep.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#dial();
    }, delay);
  }

  #ping(): void {
    const peer = this.#current;
    if (peer === undefined || this.#pingInFlight || !peer.usable) return;
    this.#pingInFlight = true;
    const timer = setTimeout(() => {
      peer.session.destroy(new MeridianError('MERIDIAN_ERR_TIMEOUT', `heartbeat unanswered for ${this.#context.options.pingTimeoutMs} ms`));
    }, this.#context.options.pingTimeoutMs);
    const answered = (error: Error | null, durationMs: number): void => {
      clearTimeout(timer);
      this.#pingInFlight = false;
      if (error !== null) {
        if (!peer.session.destroyed) peer.session.destroy(error);
        return;
      }
      this.#rttMs = durationMs;
      this.#lastHeartbeat = new Date();
      if (this.#current === peer && this.#state !== 'up') {
        this.#failures = 0;
        this.#setState('up');
      }
    };
    try {
      if (!peer.session.ping(answered)) answered(new MeridianError('MERIDIAN_ERR_TIMEOUT', 'too many unanswered PINGs'), 0);
    } catch (error) {
      answered(error as Error, 0);
    }
  }
}
