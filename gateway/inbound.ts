import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { MeridianError } from '../shared/errors/index.js';
import { peerIdentity, type SpiffeId, type TrustBundle } from '../shared/identity/index.js';
import { TARGET_INSTANCE_HEADER, parseConnectRequest, SESSION_WINDOW, REASON_HEADER, headerSafe, refuseWithError } from '../shared/mesh/index.js';
import { sessionRole, streamRoute, type PeerRole } from './authorize.js';
import { routeLocal } from './local-route.js';
import type { ResolvedGatewayOptions } from './options.js';
import { peerLeafSubject, revocationReason } from './revocation.js';
import type { RevocationSubject } from '../shared/policy/index.js';
import { routeRemote, type LinkRegistry } from './remote-route.js';

/** An accepted session and its peer, verified once at the handshake and kept for every stream. */
export interface InboundSession {
  readonly session: ServerHttp2Session;
  readonly peer: SpiffeId;
  readonly role: PeerRole;
  /** The peer's leaf as revocation reads it: a policy change closes the session once it is revoked. */
  readonly leaf: RevocationSubject;
  streams: number;
}

/** Counters an inbound handler updates (the gateway's `stats()`). */
export interface InboundCounters {
  sessionsAccepted: number;
  sessionsRefused: number;
  streamsTotal: number;
  streamsActive: number;
  streamsRefused: number;
  tcpBytesIn: number;
  tcpBytesOut: number;
}

/** What the handler reads from its gateway. */
export interface InboundContext {
  readonly ownSite: string;
  readonly bundle: () => TrustBundle;
  readonly options: ResolvedGatewayOptions;
  readonly links: LinkRegistry;
  readonly counters: InboundCounters;
  readonly draining: () => boolean;
}

/**
 * Authenticates a new session and decides whether its peer may use the gateway at all. A peer
 * that may not is told why (GOAWAY with INADEQUATE_SECURITY and the reason as debug data) and cut
 * before any stream of it is served.
 */
export function admitSession(session: ServerHttp2Session, context: InboundContext): InboundSession | undefined {
  session.on('error', (error: Error) => context.options.logger.warn('session error', { error: error.message }));
  let peer: SpiffeId;
  let leaf: RevocationSubject;
  try {
    peer = peerIdentity(session.socket as TLSSocket, context.bundle(), 'client');
    // Read per session, so per connection: a resumed TLS session carries the leaf it was made with and is judged like a new one.
    leaf = peerLeafSubject(session.socket as TLSSocket, peer.uri);
  } catch (error) {
    refuseSession(session, context, `peer identity rejected: ${(error as Error).message}`, undefined);
    return undefined;
  }
  const role = sessionRole(peer, context.ownSite);
  if (typeof role !== 'string') {
    refuseSession(session, context, role.refused, peer);
    return undefined;
  }
  const revoked = revocationReason(context.options.policy.current, leaf);
  if (revoked !== undefined) {
    refuseSession(session, context, revoked, peer);
    return undefined;
  }
  if (context.draining()) {
    session.close();
    return undefined;
  }
  context.counters.sessionsAccepted += 1;
  try {
    session.setLocalWindowSize(SESSION_WINDOW);
  } catch {
    // The session closed during setup; its close handler cleans up.
  }
  return { session, peer, role, leaf, streams: 0 };
}

function refuseSession(session: ServerHttp2Session, context: InboundContext, reason: string, peer: SpiffeId | undefined): void {
  context.counters.sessionsRefused += 1;
  context.options.logger.warn('session refused', { peer: peer?.uri, reason });
  session.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => undefined);
    stream.close(constants.NGHTTP2_REFUSED_STREAM);
  });
  session.goaway(constants.NGHTTP2_INADEQUATE_SECURITY, 0, Buffer.from(headerSafe(reason)));
  // Deferred a turn so the GOAWAY is written before the socket closes.
  setImmediate(() => session.destroy());
}

/**
 * Closes an admitted session whose peer the policy now revokes: GOAWAY with INADEQUATE_SECURITY
 * and the reason, then the session and its open streams are cut (their relays end with them).
 */
export function cutRevokedSession(entry: InboundSession, reason: string, context: InboundContext): void {
  context.options.logger.warn('session closed: peer revoked', { peer: entry.peer.uri, streams: entry.streams, reason });
  if (entry.session.destroyed) return;
  try {
    entry.session.goaway(constants.NGHTTP2_INADEQUATE_SECURITY, 0, Buffer.from(headerSafe(reason)));
  } catch {
    // Closing already: destroying below is all that is left to do.
  }
  // Deferred a turn so the GOAWAY is written before the socket closes.
  setImmediate(() => entry.session.destroy());
}

/** Serves one CONNECT stream of an admitted session: authorise, route, relay. */
export function handleStream(entry: InboundSession, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: InboundContext): void {
  stream.on('error', (error: Error) => context.options.logger.warn('stream error', { peer: entry.peer.uri, error: error.message }));
  track(entry, stream, headers, context);
  let route: 'local' | 'remote';
  let target;
  try {
    if (context.draining()) throw new MeridianError('MERIDIAN_ERR_UNAVAILABLE', 'the gateway is draining');
    target = parseConnectRequest(headers);
    route = streamRoute(entry.role, entry.peer, target, context.ownSite);
  } catch (error) {
    refuseWithError(stream, error);
    return;
  }
  const { counters } = context;
  const served = route === 'local'
    ? routeLocal(stream, target, {
        resolver: context.options.resolver,
        connectTimeoutMs: context.options.connectTimeoutMs,
        counters: { aToB: (n) => (counters.tcpBytesOut += n), bToA: (n) => (counters.tcpBytesIn += n) },
      })
    : routeRemote(stream, target, context.links, context.options.connectTimeoutMs);
  served.catch((error: unknown) => refuseWithError(stream, error));
}

/** Counts the stream, and logs it once closed when it was not accepted (every refusal path answers before closing). */
function track(entry: InboundSession, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: InboundContext): void {
  const { counters } = context;
  counters.streamsTotal += 1;
  counters.streamsActive += 1;
  entry.streams += 1;
  stream.once('close', () => {
    counters.streamsActive -= 1;
    entry.streams -= 1;
    // Undefined when the stream closed before any answer (reset by either side).
    const sent = stream.sentHeaders as OutgoingHttpHeaders | undefined;
    const status = sent?.[constants.HTTP2_HEADER_STATUS];
    if (status === 200) return;
    counters.streamsRefused += 1;
    context.options.logger.warn('stream refused', {
      peer: entry.peer.uri,
      authority: headers[constants.HTTP2_HEADER_AUTHORITY],
      instance: headers[TARGET_INSTANCE_HEADER],
      status: status ?? 'reset',
      reason: sent?.[REASON_HEADER],
    });
  });
}
