import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type Http2Session } from 'node:http2';
import { isIPv6 } from 'node:net';
import { MeridianError } from '../errors/index.js';
import { mtlsClientOptions, type MtlsIdentity, type SpiffeId } from '../identity/index.js';
import type { GatewayAddress, MeshTarget } from './contracts.js';
import { connectHeaders } from './connect-request.js';
import { REASON_HEADER } from './refusal.js';

/**
 * Per-stream HTTP/2 receive window. The 64 KiB default would throttle a tunnel; Node only returns
 * window credit as the data is read, so this also bounds what one stream can buffer at a hop.
 */
export const STREAM_WINDOW = 1 << 20;
/** Per-session receive window: bounds what all streams of one session together can buffer at a hop. */
export const SESSION_WINDOW = 16 << 20;
/** Header block bound for both directions: a CONNECT needs a few hundred bytes. */
export const MAX_HEADER_LIST_SIZE = 16 << 10;

/** How to reach and authenticate a gateway. */
export interface PeerSessionOptions {
  readonly address: GatewayAddress;
  readonly identity: MtlsIdentity;
  /** Accepts the peer's verified SPIFFE ID; checked inside the handshake, so a wrong peer never gets a byte. */
  readonly expect: (peer: SpiffeId) => boolean;
  /** SNI; not used for authentication (the SPIFFE ID is), only so the peer can pick a certificate. */
  readonly servername: string;
  readonly handshakeTimeoutMs: number;
  readonly maxConcurrentStreams: number;
}

/** A CONNECT stream and the gateway's answer to it. */
export interface ConnectAnswer {
  readonly stream: ClientHttp2Stream;
  readonly status: number;
  readonly reason: string | undefined;
}

function authorityUrl(address: GatewayAddress): string {
  return `https://${isIPv6(address.address) ? `[${address.address}]` : address.address}:${address.port}`;
}

/** An outbound HTTP/2 session over mTLS to a gateway, with the reason it ended once it has. */
export class PeerSession {
  readonly session: ClientHttp2Session;
  #ended: string | undefined;
  #refusal: string | undefined;
  #goaway = false;

  private constructor(session: ClientHttp2Session) {
    this.session = session;
    // Kept for the session's life: an error event without a listener would crash the process.
    session.on('error', (error: Error) => this.#end(error.message));
    session.on('goaway', (code: number, _last: number, data?: Buffer) => {
      this.#goaway = true;
      const text = data !== undefined && data.length > 0 ? data.toString('utf8') : undefined;
      if (text !== undefined && code !== constants.NGHTTP2_NO_ERROR) {
        this.#refusal = text;
        this.#end(`peer refused the session: ${text}`);
      } else {
        this.#end(`peer sent GOAWAY (code ${code})`);
      }
    });
    session.on('close', () => this.#end('session closed'));
  }

  /** Dials, resolving once the TLS 1.3 handshake has verified the peer; rejects with the reason it failed. */
  static open(options: PeerSessionOptions): Promise<PeerSession> {
    const session = connect(authorityUrl(options.address), {
      ...mtlsClientOptions(options.identity, options.expect),
      servername: options.servername,
      peerMaxConcurrentStreams: options.maxConcurrentStreams,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW, maxHeaderListSize: MAX_HEADER_LIST_SIZE },
    });
    const peer = new PeerSession(session);
    return new Promise<PeerSession>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy(new MeridianError('MERIDIAN_ERR_TIMEOUT', `TLS handshake with ${authorityUrl(options.address)} took over ${options.handshakeTimeoutMs} ms`));
      }, options.handshakeTimeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        session.setLocalWindowSize(SESSION_WINDOW);
        resolve(peer);
      });
      session.once('close', () => {
        clearTimeout(timer);
        reject(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `cannot reach gateway ${authorityUrl(options.address)}: ${peer.endReason ?? 'closed'}`));
      });
    });
  }

  /** Accepts new streams: not closed, destroyed or told to go away. */
  get usable(): boolean {
    return !this.#goaway && !this.session.closed && !this.session.destroyed;
  }

  /** The reason the peer gave when it refused this session (a GOAWAY with an error code). */
  get refusal(): string | undefined {
    return this.#refusal;
  }

  /** Why the session ended (first cause wins), or undefined while it is open. */
  get endReason(): string | undefined {
    return this.#ended;
  }

  #end(reason: string): void {
    this.#ended ??= reason;
  }

  /**
   * Opens a CONNECT stream for `target` and waits for the gateway's answer, up to `timeoutMs`;
   * rejects when the stream fails first or `signal` aborts.
   */
  request(target: MeshTarget, timeoutMs: number, signal?: AbortSignal): Promise<ConnectAnswer> {
    let stream: ClientHttp2Stream;
    try {
      stream = this.session.request(connectHeaders(target), { endStream: false });
    } catch (cause) {
      // The session closed or ran out of stream ids between the caller's check and this call.
      return Promise.reject(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `cannot open a CONNECT stream: ${(cause as Error).message}`, { cause }));
    }
    // Errors after the answer belong to whoever relays the stream; this one only keeps them from crashing.
    stream.on('error', () => undefined);
    return new Promise<ConnectAnswer>((resolve, reject) => {
      const fail = (error: Error): void => {
        cleanup();
        abort(stream);
        reject(error);
      };
      const onAbort = (): void => fail(signal?.reason instanceof Error ? signal.reason : new MeridianError('MERIDIAN_ERR_TIMEOUT', 'dial aborted'));
      const onClose = (): void => fail(this.#streamClosed(stream));
      const timer = setTimeout(() => fail(new MeridianError('MERIDIAN_ERR_TIMEOUT', `no answer to CONNECT within ${timeoutMs} ms`)), timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        stream.off('close', onClose);
      };
      stream.once('response', (headers) => {
        cleanup();
        const reason = headers[REASON_HEADER];
        resolve({ stream, status: Number(headers[constants.HTTP2_HEADER_STATUS]), reason: typeof reason === 'string' ? reason : undefined });
      });
      stream.once('close', onClose);
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #streamClosed(stream: ClientHttp2Stream): MeridianError {
    if (this.#refusal !== undefined) return new MeridianError('MERIDIAN_ERR_FORBIDDEN', `gateway refused the session: ${this.#refusal}`);
    const why = this.#ended ?? `stream reset (HTTP/2 code ${stream.rstCode ?? 'none'})`;
    // REFUSED_STREAM (also what a GOAWAY implies for streams past its last id): never processed, safe to retry.
    const retryable = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
    return new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `CONNECT stream closed before an answer: ${why}`, { details: { retryable } });
  }
}

/** True for a CONNECT the gateway refused unprocessed (it was going away): the caller may send it again on a new session. */
export function isRetryable(error: unknown): boolean {
  return error instanceof MeridianError && error.details?.['retryable'] === true;
}

function abort(stream: ClientHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
}

/**
 * Opens a CONNECT stream on the session `acquire` yields. A gateway that went away under the
 * request without processing it (REFUSED_STREAM, or past a GOAWAY's last stream id) gets it once
 * more, on the session `acquire` yields next: the agent's dialer and a gateway's tunnel both
 * depend on this so that a restarting gateway loses no stream.
 */
export async function requestWithRetry(acquire: () => Promise<PeerSession>, target: MeshTarget, timeoutMs: number, signal?: AbortSignal): Promise<ConnectAnswer> {
  try {
    return await (await acquire()).request(target, timeoutMs, signal);
  } catch (error) {
    if (!isRetryable(error)) throw error;
    return (await acquire()).request(target, timeoutMs, signal);
  }
}

/**
 * Closes an HTTP/2 session gracefully (GOAWAY: open streams may finish), and destroys it with what
 * is left once `graceMs` has passed. Resolves when it is closed.
 */
export async function closeSession(session: Http2Session, graceMs: number): Promise<void> {
  if (session.destroyed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => session.destroy(), graceMs);
    session.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    session.close();
  });
}
