import type { TLSSocket } from 'node:tls';
import type { SpiffeId } from '../../../shared/identity/index.js';
import type { RevocationSubject } from '../../../shared/policy/index.js';

/** What the inbound proxy verified about a connection, once, right after its handshake. */
export interface VerifiedPeer {
  /** The local service the SNI selected. */
  readonly service: string;
  /** The site of that service's identity: this node's site. */
  readonly site: string;
  readonly caller: SpiffeId;
  /** The caller's leaf as revocations judge it, read once at the handshake and again on each policy change. */
  readonly leaf: RevocationSubject;
}

// A symbol-keyed property on the TLS socket: Node's HTTP/2 compatibility layer hands requests a
// proxy of the socket that forwards property reads, so both HTTP/1.1 and HTTP/2 requests reach
// the verdict through `req.socket` without re-verifying the chain per request.
const PEER = Symbol('meridian.proxy.peer');

type Tagged = { [PEER]?: VerifiedPeer };

export function attachPeer(socket: TLSSocket, peer: VerifiedPeer): void {
  (socket as TLSSocket & Tagged)[PEER] = peer;
}

/** The verified peer of a request's connection; undefined for a socket the inbound did not verify. */
export function peerOf(socket: unknown): VerifiedPeer | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined;
  return (socket as Tagged)[PEER];
}
