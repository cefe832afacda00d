import { constants as crypto } from 'node:crypto';
import { once } from 'node:events';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { MeridianError } from '../shared/errors/index.js';
import { mtlsContextOptions, mtlsServerOptions, ownIdentity, type MtlsIdentity, type SpiffeId } from '../shared/identity/index.js';
import { admitSession, cutRevokedSession, handleStream, type InboundContext, type InboundCounters, type InboundSession } from './inbound.js';
import { resolveGatewayOptions, type ResolvedGatewayOptions } from './options.js';
import { MAX_HEADER_LIST_SIZE, STREAM_WINDOW, type GatewayAddress } from '../shared/mesh/index.js';
import { LinkRegistry } from './remote-route.js';
import { revocationReason } from './revocation.js';
import type { EnforcedPolicy } from '../shared/policy/index.js';
import type { Gateway, GatewayOptions, GatewayStats, LinkStatus } from './types.js';

/**
 * No TLS session resumption: a resumed TLS 1.3 session skips the client's certificate, so a peer
 * revoked since its ticket was issued could come back without presenting its chain. With
 * SSL_OP_NO_TICKET the server hands out stateful tickets only, and as it keeps no session cache
 * (no 'resumeSession' listener) none resumes: every connection is a full handshake whose leaf is
 * judged against the policy of its time.
 */
function gatewayContextOptions(identity: MtlsIdentity): ReturnType<typeof mtlsContextOptions> & { secureOptions: number } {
  return { ...mtlsContextOptions(identity), secureOptions: crypto.SSL_OP_NO_TICKET };
}

/**
 * Starts an east-west gateway: one TLS 1.3 port speaking HTTP/2 only, serving classic CONNECT
 * streams for its own site's agents (to other sites) and for other sites' gateways (to this site).
 * Resolves once it listens; fails fast on a bad option or a credential that is not a gateway's.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const resolved = resolveGatewayOptions(options);
  const id = ownIdentity(options.identity, 'startGateway: identity', 'gateway');
  const gateway = new GatewayServer(id, options.identity, resolved);
  await gateway.listen();
  return gateway;
}

class GatewayServer implements Gateway {
  readonly id: SpiffeId;
  #identity: MtlsIdentity;
  readonly #options: ResolvedGatewayOptions;
  readonly #server: Http2SecureServer;
  readonly #links: LinkRegistry;
  readonly #sessions = new Map<ServerHttp2Session, InboundSession>();
  /** Raw connections, also those still in their handshake: a drain past its bound cuts them too. */
  readonly #sockets = new Set<Socket>();
  readonly #counters: InboundCounters = { sessionsAccepted: 0, sessionsRefused: 0, streamsTotal: 0, streamsActive: 0, streamsRefused: 0, tcpBytesIn: 0, tcpBytesOut: 0 };
  readonly #context: InboundContext;
  #address: GatewayAddress | undefined;
  #drained: Promise<void> | undefined;
  readonly #unwatchPolicy: () => void;

  constructor(id: SpiffeId, identity: MtlsIdentity, options: ResolvedGatewayOptions) {
    this.id = id;
    this.#identity = identity;
    this.#options = options;
    this.#links = new LinkRegistry(options, () => this.#identity);
    this.#context = {
      ownSite: id.site,
      bundle: () => this.#identity.bundle,
      options,
      links: this.#links,
      counters: this.#counters,
      draining: () => this.#drained !== undefined,
    };
    this.#server = createSecureServer({
      ...mtlsServerOptions(identity),
      ...gatewayContextOptions(identity),
      allowHTTP1: false,
      handshakeTimeout: options.handshakeTimeoutMs,
      unknownProtocolTimeout: options.handshakeTimeoutMs,
      peerMaxConcurrentStreams: options.maxConcurrentStreams,
      settings: {
        enablePush: false,
        enableConnectProtocol: false,
        maxConcurrentStreams: options.maxConcurrentStreams,
        initialWindowSize: STREAM_WINDOW,
        maxHeaderListSize: MAX_HEADER_LIST_SIZE,
      },
    });
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('session', (session: ServerHttp2Session) => this.#onSession(session));
    this.#unwatchPolicy = options.policy.onChange((next) => this.#revoke(next));
    this.#server.on('tlsClientError', (error: Error, socket: { authorizationError?: unknown; remoteAddress?: string }) => {
      this.#counters.sessionsRefused += 1;
      // The chain error is on the socket: a TLS 1.3 server sees the client's certificate after its own Finished.
      const why = socket.authorizationError instanceof Error ? socket.authorizationError.message : socket.authorizationError;
      options.logger.warn('handshake failed', { remote: socket.remoteAddress, error: error.message, authorizationError: why });
    });
  }

  /** Binds the port; rejects with the listen error (e.g. EADDRINUSE). */
  async listen(): Promise<void> {
    this.#server.listen(this.#options.port, this.#options.host);
    await once(this.#server, 'listening');
    const bound = this.#server.address() as AddressInfo;
    this.#address = { address: bound.address, port: bound.port };
    this.#server.on('error', (error: Error) => this.#options.logger.error('gateway server error', { error: error.message }));
  }

  get address(): GatewayAddress {
    if (this.#address === undefined) throw new MeridianError('MERIDIAN_ERR_INTERNAL', 'the gateway is not listening yet');
    return this.#address;
  }

  links(): LinkStatus[] {
    return this.#links.statuses();
  }

  probe(site: string): LinkStatus {
    return this.#links.get(site).status();
  }

  stats(): GatewayStats {
    const c = this.#counters;
    let agent = 0;
    for (const entry of this.#sessions.values()) if (entry.role === 'agent') agent += 1;
    return {
      sessions: { agent, gateway: this.#sessions.size - agent },
      sessionsAccepted: c.sessionsAccepted,
      sessionsRefused: c.sessionsRefused,
      streams: { active: c.streamsActive, total: c.streamsTotal, refused: c.streamsRefused },
      tcpBytesIn: c.tcpBytesIn,
      tcpBytesOut: c.tcpBytesOut,
    };
  }

  setIdentity(identity: MtlsIdentity): void {
    const renewed = ownIdentity(identity, 'setIdentity: identity', 'gateway');
    if (renewed.uri !== this.id.uri) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `setIdentity: identity must keep the gateway's SPIFFE ID ${this.id.uri} (got ${renewed.uri})`);
    }
    // Only new handshakes use the new context; established sessions keep their keys.
    this.#server.setSecureContext(gatewayContextOptions(identity));
    this.#identity = identity;
    this.#options.logger.info('gateway identity renewed', { id: renewed.uri, notAfter: identity.chain[0]?.validTo });
  }

  drain(timeoutMs: number): Promise<void> {
    this.#drained ??= this.#drain(timeoutMs);
    return this.#drained;
  }

  close(): Promise<void> {
    return this.drain(0);
  }

  #onSession(session: ServerHttp2Session): void {
    const entry = admitSession(session, this.#context);
    if (entry === undefined) return;
    this.#sessions.set(session, entry);
    session.once('close', () => this.#sessions.delete(session));
    session.on('stream', (stream, headers) => {
      try {
        handleStream(entry, stream, headers, this.#context);
      } catch (error) {
        // A throw here would escape into nghttp2's callback and take the whole gateway down.
        this.#options.logger.error('stream handler failed', { peer: entry.peer.uri, error: (error as Error).message });
        stream.destroy();
      }
    });
    // Received PINGs refresh the idle timer only while someone listens for them.
    session.on('ping', () => undefined);
    // A permanent listener: setTimeout(ms, callback) would run the callback for the first timeout only.
    session.setTimeout(this.#options.sessionIdleMs);
    session.on('timeout', () => {
      // A quiet session with open streams may be a long-lived idle TCP connection: keep it.
      if (entry.streams === 0) session.close();
    });
  }

  /** A new policy: sessions of peers it revokes are cut, and so are tunnels to gateways it revokes. */
  #revoke(policy: EnforcedPolicy): void {
    if (policy.revocations.size === 0) return;
    for (const entry of this.#sessions.values()) {
      const reason = revocationReason(policy, entry.leaf);
      if (reason !== undefined) cutRevokedSession(entry, reason, this.#context);
    }
    this.#links.revoke(policy);
  }

  async #drain(timeoutMs: number): Promise<void> {
    const { logger } = this.#options;
    this.#unwatchPolicy();
    logger.info('gateway draining', { timeoutMs, sessions: this.#sessions.size, streams: this.#counters.streamsActive });
    const listening = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // close() sends GOAWAY(NO_ERROR, last processed stream): open streams go on, new ones are refused.
    const sessions = [...this.#sessions.keys()].map((session) => {
      // Not events.once: it would reject on a session 'error', and a drain must not fail over one session.
      const closed = new Promise<void>((resolve) => (session.destroyed ? resolve() : session.once('close', () => resolve())));
      session.close();
      return closed;
    });
    const everything = Promise.all([listening, this.#links.close(true), ...sessions]);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'cut'>((resolve) => {
      timer = setTimeout(() => resolve('cut'), timeoutMs);
    });
    const outcome = await Promise.race([everything.then(() => 'drained' as const), bound]);
    clearTimeout(timer);
    if (outcome === 'cut') {
      logger.warn('drain bound reached: cutting open streams', { streams: this.#counters.streamsActive });
      for (const session of this.#sessions.keys()) session.destroy();
      for (const socket of this.#sockets) socket.destroy();
      await this.#links.close(false);
    }
    await everything;
    logger.info('gateway drained', { cut: outcome === 'cut' });
  }
}
