import http2, { type Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../../shared/telemetry/index.js';
import { peerIdentity, type SpiffeId } from '../../../shared/identity/index.js';
import { ConnectionTracker } from '../listener/drain.js';
import { inboundRequestHandler } from './http.js';
import { NO_RESUMPTION, SniContexts, selectAlpn } from './tls.js';
import { assertPort, checkingInterval, interceptListeners, listen, resolveTimeouts, SILENT_LOGGER, type ServerTimeouts } from '../listener/listen.js';
import { LocalApps } from './local-apps.js';
import { attachPeer, peerOf, type VerifiedPeer } from './peer.js';
import { serveTcp, type InboundTcpDeps } from './tcp.js';
import type { InboundOptions, InboundProxy } from './types.js';
import { DEFAULT_DRAIN_MS } from '../../../shared/config/index.js';
import { LivePolicy, type EnforcedPolicy } from '../../../shared/policy/index.js';
import type { RequestObserver } from '../records.js';
import { tcpRecord } from '../records.js';
import { REVOKED_RULE } from './policy.js';
import { RateLimiter } from '../ratelimit/limiter.js';
import { permissiveSniffer } from './permissive.js';

const DEFAULT_MAX_STREAMS = 256;

/** Everything a newly handshaken connection is checked against. */
interface Gate {
  readonly options: InboundOptions;
  readonly contexts: SniContexts;
  readonly tracker: ConnectionTracker;
  readonly tcp: InboundTcpDeps;
  readonly policy: LivePolicy;
  /** Every verified connection still open, so a policy change can close those of callers now revoked. */
  readonly verified: Set<TLSSocket>;
}

/**
 * Reports a handshake refused for a revoked certificate: counted and written to the access log
 * with the rule, like any refusal, and not logged line by line (a revoked caller retrying in a
 * loop must not flood the log).
 */
function reportRevoked(onRequest: RequestObserver | undefined, service: string, caller: SpiffeId, alpn: string): void {
  const record = tcpRecord({ direction: 'inbound', service, peerService: caller.name, peerSite: caller.site, startedAt: Date.now(), status: 403, policyRule: REVOKED_RULE });
  onRequest?.(alpn === 'meridian-tcp' ? record : { ...record, protocol: 'http' });
}

/**
 * Verifies the caller's SPIFFE identity right after the handshake, once per connection (the
 * chain already verified against the bundle; this applies the SPIFFE rules), and refuses the
 * connection outright when it fails. Undefined when the connection was refused.
 */
function verifyConnection(gate: Gate, socket: TLSSocket): VerifiedPeer | undefined {
  const logger = gate.options.logger ?? SILENT_LOGGER;
  const selected = gate.contexts.lookup(socket.servername);
  if (selected === undefined) {
    socket.destroy();
    return undefined;
  }
  let caller: SpiffeId;
  try {
    caller = peerIdentity(socket, selected.identity.bundle, 'client');
  } catch (error) {
    logger.warn('inbound: caller refused', { service: selected.service, remote: socket.remoteAddress, reason: (error as Error).message });
    socket.destroy();
    return undefined;
  }
  // Every handshake, resumed or not, is judged on the leaf it presents now: Node gives the
  // peer's certificate on a resumed session too, and a session without one is refused.
  const certificate = socket.getPeerX509Certificate();
  const leaf = certificate === undefined ? undefined : { uri: caller.uri, serial: certificate.serialNumber, notAfter: Date.parse(certificate.validTo) };
  if (leaf === undefined || gate.policy.current.revocations.isRevoked(leaf)) {
    reportRevoked(gate.options.onRequest, selected.service, caller, String(socket.alpnProtocol));
    socket.destroy();
    return undefined;
  }
  if (certificate !== undefined) gate.options.onConnection?.({ service: selected.service, caller, certificate, alpn: String(socket.alpnProtocol) });
  return { service: selected.service, site: selected.site, caller, leaf };
}

/** Destroys every open connection (HTTP/2 sessions with it) whose caller `next` revokes. */
function closeRevoked(gate: Gate, next: EnforcedPolicy): void {
  if (next.revocations.size === 0) return;
  for (const socket of gate.verified) {
    const peer = peerOf(socket);
    if (peer !== undefined && next.revocations.isRevoked(peer.leaf)) socket.destroy();
  }
}

/**
 * Routes each verified connection by ALPN: raw TCP here, HTTP/1.1 and HTTP/2 to Node's server
 * code. This sits in front of the server's own 'secureConnection' listener because Node 20's
 * HTTP/2 server starts an HTTP/2 session for every ALPN but http/1.1 ('unknownProtocol' only
 * fires without ALPN and without allowHTTP1), so 'meridian-tcp' must be taken before it.
 */
function dispatch(gate: Gate, socket: TLSSocket, next: (socket: TLSSocket) => void): void {
  socket.on('error', () => undefined);
  const peer = verifyConnection(gate, socket);
  if (peer === undefined) return;
  attachPeer(socket, peer);
  gate.verified.add(socket);
  socket.once('close', () => gate.verified.delete(socket));
  if (socket.alpnProtocol === 'meridian-tcp') {
    void serveTcp(gate.tcp, socket, peer);
    return;
  }
  // HTTP/2 sessions are tracked from the server's 'session' event.
  if (socket.alpnProtocol !== 'h2') gate.tracker.addHttp1(socket);
  next(socket);
}

/**
 * Logs each failed handshake with its peer and why. A certificate the chain check refused
 * surfaces as a bare reset ("socket hang up"): under TLS 1.3 the server judges it after its
 * own Finished, and the reason is on the socket. By then the socket is closed and can't tell
 * its peer any more, so the address is read as the connection arrives (one getpeername per
 * connection) and found again through the TLS socket's underlying one (Node's `_parent`).
 */
function logHandshakeFailures(server: Http2SecureServer, logger: Logger): void {
  const remotes = new WeakMap<object, string | undefined>();
  server.prependListener('connection', (raw: Socket) => remotes.set(raw, raw.remoteAddress));
  server.on('tlsClientError', (error: Error, socket: TLSSocket & { _parent?: object | null }) => {
    const why: unknown = socket.authorizationError;
    const remote = socket.remoteAddress ?? (socket._parent == null ? undefined : remotes.get(socket._parent));
    logger.warn('inbound: handshake failed', { remote, error: error.message, authorizationError: why instanceof Error ? why.message : why });
  });
}

function createServer(gate: Gate, timeouts: ServerTimeouts): Http2SecureServer {
  const server = http2.createSecureServer({
    allowHTTP1: true,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    secureOptions: NO_RESUMPTION,
    SNICallback: gate.contexts.callback,
    ALPNCallback: selectAlpn,
    // Raw TCP callers may half-close (send, then FIN) and still read the answer.
    allowHalfOpen: true,
    handshakeTimeout: timeouts.handshakeMs,
    noDelay: true,
    settings: { maxConcurrentStreams: gate.options.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS },
  });
  // The HTTP/1.1 side of the server: strict parsing is Node's default; bound the slow clients.
  // Node reads these from the server for its allowHTTP1 path (the types don't declare them).
  Object.assign(server, {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.idleMs,
    connectionsCheckingInterval: checkingInterval(timeouts),
  });
  interceptListeners<TLSSocket>(server, 'secureConnection', (socket, next) => dispatch(gate, socket, next));
  server.on('session', (session) => {
    gate.tracker.addSession(session);
    session.on('error', () => undefined);
    session.setTimeout(timeouts.idleMs, () => session.close());
  });
  server.on('sessionError', () => undefined);
  logHandshakeFailures(server, gate.tcp.logger);
  server.on('unknownProtocol', (socket) => socket.destroy());
  return server;
}

/**
 * Starts the node's inbound listener: one TLS 1.3 mTLS port for every local service, the SNI
 * selecting the service and its identity. HTTP/1.1, HTTP/2 and gRPC go to the local app with
 * the verified caller in CALLER_HEADER; ALPN 'meridian-tcp' is piped to the app's port. Callers
 * of another site reach only exported services, and only workload identities call at all.
 */
export async function startInbound(options: InboundOptions): Promise<InboundProxy> {
  assertPort('startInbound', 'port', options.port);
  const timeouts = resolveTimeouts('startInbound', options.timeouts);
  const logger = options.logger ?? SILENT_LOGGER;
  const policy = options.policy ?? new LivePolicy();
  const encodedSlashes = options.encodedSlashes ?? 'reject';
  const tracker = new ConnectionTracker();
  const { localServices, onRequest } = options;
  const tcp: InboundTcpDeps = { localServices, policy, tracker, logger, onRequest, connectTimeoutMs: timeouts.handshakeMs };
  const gate: Gate = { options, contexts: new SniContexts(options.identities), tracker, tcp, policy, verified: new Set() };
  const apps = new LocalApps({ idleMs: timeouts.idleMs });
  const server = createServer(gate, timeouts);
  // Without the agent's limiter (and its Redis), local buckets still apply and global ones act as on a Redis loss.
  const limiter = options.rateLimiter ?? new RateLimiter({ policy, redis: undefined, mode: { kind: 'script' }, log: logger });
  server.on('request', inboundRequestHandler({ localServices, policy, encodedSlashes, apps, tracker, logger, onRequest, limiter }));
  const permissive = permissiveSniffer({ policy, localServices, apps, tracker, onRequest, timeouts });
  interceptListeners<Socket>(server, 'connection', permissive.sniff);
  const unsubscribe = policy.onChange((next) => closeRevoked(gate, next));
  const address = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port, address);
  let closing: Promise<void> | undefined;
  return {
    address,
    port,
    setIdentity: (service, identity) => gate.contexts.set(service, identity),
    removeService: (service) => gate.contexts.remove(service),
    close: (timeoutMs = DEFAULT_DRAIN_MS) => {
      closing ??= (async () => {
        unsubscribe();
        permissive.stop();
        server.close();
        await gate.tracker.drain(timeoutMs);
        await apps.close(1_000);
        if (options.rateLimiter === undefined) await limiter.close();
      })();
      return closing;
    },
  };
}
