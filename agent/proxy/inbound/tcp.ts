import net, { type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { MeridianError } from '../../../shared/errors/index.js';
import { pipe } from '../../../shared/mesh/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { ConnectionTracker } from '../listener/drain.js';
import { tcpRecord, type RequestObserver } from '../records.js';
import { TCP_ACCEPTED, TCP_APP_REFUSED, TCP_FORBIDDEN } from '../transport/refusal.js';
import { callerRefusal } from './callers.js';
import type { VerifiedPeer } from './peer.js';
import type { LocalService, LocalServices } from './types.js';
import type { LivePolicy } from '../../../shared/policy/index.js';
import { decideTcp } from './policy.js';

/** What a raw TCP connection needs. */
export interface InboundTcpDeps {
  readonly localServices: LocalServices;
  readonly policy: LivePolicy;
  readonly tracker: ConnectionTracker;
  readonly logger: Logger;
  readonly onRequest: RequestObserver | undefined;
  /** How long the app may take to accept. */
  readonly connectTimeoutMs: number;
}

const ACCEPTED = Buffer.from([TCP_ACCEPTED]);
const APP_REFUSED = Buffer.from([TCP_APP_REFUSED]);
const FORBIDDEN = Buffer.from([TCP_FORBIDDEN]);
/** How long a refused caller has to close its side after the refusal byte. */
const REFUSAL_LINGER_MS = 1000;

/** Sends a refusal byte and closes, reading (and dropping) what the caller already sent, so no reset cuts the byte. */
function refuse(socket: TLSSocket, code: Buffer): void {
  socket.resume();
  socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
  socket.end(code);
}

function report(deps: InboundTcpDeps, peer: VerifiedPeer, startedAt: number, status: number, policyRule?: string): void {
  const parts = { direction: 'inbound' as const, service: peer.service, peerService: peer.caller.name, peerSite: peer.caller.site, startedAt, status };
  deps.onRequest?.(tcpRecord(policyRule === undefined ? parts : { ...parts, policyRule }));
}

/** Connects to the app within `timeoutMs`; rejects with the connect error. */
function connectApp(app: LocalService, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const upstream = net.connect({ host: app.address, port: app.port, noDelay: true, allowHalfOpen: true });
    upstream.setTimeout(timeoutMs, () => upstream.destroy(new MeridianError('MERIDIAN_ERR_TIMEOUT', `app at ${app.address}:${app.port} did not accept within ${timeoutMs} ms`)));
    upstream.once('error', reject);
    upstream.once('connect', () => {
      upstream.off('error', reject);
      upstream.setTimeout(0);
      resolve(upstream);
    });
  });
}

/**
 * Raw TCP (ALPN 'meridian-tcp'): the caller is checked once, then the app is connected and only
 * then is the caller told (the first byte, see transport/refusal.ts), so a caller whose
 * destination app is down moves to another instance before sending a byte. A caller that is
 * no workload (or of a site the service is not exported to) is logged and reported with status
 * 403; one the policy denies is reported with 403 and the rule (the access log and the denial
 * metric carry it: no log line per connection); a refused app connection with 502.
 */
export async function serveTcp(deps: InboundTcpDeps, socket: TLSSocket, peer: VerifiedPeer): Promise<void> {
  const startedAt = Date.now();
  const app = deps.localServices(peer.service);
  const refusal = callerRefusal(peer, app?.exported === true);
  if (refusal !== undefined) {
    deps.logger.warn('inbound: caller refused', { service: peer.service, caller: peer.caller.uri, remote: socket.remoteAddress, reason: refusal });
    report(deps, peer, startedAt, 403);
    refuse(socket, FORBIDDEN);
    return;
  }
  const decision = decideTcp(deps.policy.current, peer.caller, peer.service);
  if (!decision.allowed) {
    report(deps, peer, startedAt, 403, decision.rule);
    refuse(socket, FORBIDDEN);
    return;
  }
  deps.tracker.addRaw(socket);
  socket.setNoDelay(true);
  const upstream = app === undefined ? undefined : await connectApp(app, deps.connectTimeoutMs).catch(() => undefined);
  if (upstream === undefined) {
    report(deps, peer, startedAt, 502);
    refuse(socket, APP_REFUSED);
    return;
  }
  if (socket.destroyed) {
    upstream.destroy();
    return;
  }
  if (deps.onRequest !== undefined) socket.once('close', () => report(deps, peer, startedAt, 0));
  socket.write(ACCEPTED);
  await pipe(socket, upstream);
}
