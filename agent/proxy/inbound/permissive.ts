import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SpiffeId } from '../../../shared/identity/index.js';
import type { EnforcedPolicy, LivePolicy } from '../../../shared/policy/index.js';
import { ProxyError, replyError } from '../http/errors.js';
import { parseMeshAuthority } from '../http/headers.js';
import { nextTraceparent } from '../http/trace.js';
import type { ConnectionTracker } from '../listener/drain.js';
import type { ServerTimeouts } from '../listener/listen.js';
import type { RequestObserver } from '../records.js';
import type { LocalApps } from './local-apps.js';
import { decideHttp, denialMessage, judgeTarget, PATH_REJECTED_RULE, type JudgedTarget } from './policy.js';
import type { LocalServices } from './types.js';

/** The first byte of every TLS connection: a handshake record. */
const TLS_HANDSHAKE = 0x16;

/** The name access logs and metrics give a plaintext caller (it has no identity). */
export const PLAINTEXT_CALLER = 'unauthenticated';

/**
 * How a plaintext caller is judged: as an identity of the trust domain with no site, service or
 * kind, so a rule matches it only when its `from` names none of them: `spiffe://<td>/**`,
 * `.../site/*` + `/**`. Rules naming a site or a service never match it, allow and deny alike
 * (Istio's choice for principals). One object per policy version, none per request.
 */
function anonymousOf(policy: EnforcedPolicy): SpiffeId {
  return { uri: '', trustDomain: policy.set?.trustDomain ?? '', site: '', kind: 'site', name: '' };
}

/** Whether any service of `policy` runs in permissive mode: else the port takes no plaintext at all. */
function anyPermissive(policy: EnforcedPolicy): boolean {
  const mtls = policy.set?.defaults.spec.mtls;
  return mtls?.mode === 'permissive' || Object.values(mtls?.services ?? {}).includes('permissive');
}

/** What the plaintext side of the inbound port needs. */
export interface PermissiveDeps {
  readonly policy: LivePolicy;
  readonly localServices: LocalServices;
  readonly apps: LocalApps;
  readonly tracker: ConnectionTracker;
  readonly onRequest: RequestObserver | undefined;
  readonly timeouts: ServerTimeouts;
}

/** Puts each new connection on the TLS or the plaintext side; `stop` stops following the policy. */
export interface PermissiveSniffer {
  readonly sniff: (socket: Socket, tlsNext: (socket: Socket) => void) => void;
  stop(): void;
}

interface PlainCall extends JudgedTarget {
  service: string;
  rule: string | undefined;
}

function observe(deps: PermissiveDeps, req: IncomingMessage, res: ServerResponse, call: PlainCall): void {
  const onRequest = deps.onRequest;
  if (onRequest === undefined) return;
  const startedAt = Date.now();
  res.once('close', () => {
    const record = { direction: 'inbound' as const, service: call.service, peerService: PLAINTEXT_CALLER, peerSite: '', protocol: 'http' as const };
    const rest = { method: req.method ?? '', path: call.target, status: res.statusCode, durationMs: Date.now() - startedAt, traceparent: '', incomingTraceparent: '', startedAt };
    onRequest(call.rule === undefined ? { ...record, ...rest } : { ...record, ...rest, policyRule: call.rule });
  });
}

/**
 * One plaintext HTTP/1.1 request: its Host must name a local service in permissive mode (else
 * 403: that service requires mTLS), its target must normalise and the policy allow the
 * anonymous caller; the app then gets it without CALLER_HEADER (there is no verified caller).
 */
async function handlePlain(deps: PermissiveDeps, anonymous: () => SpiffeId, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const policy = deps.policy.current;
  const raw = req.url ?? '/';
  const service = parseMeshAuthority(req.headers.host);
  const call: PlainCall = { service: service ?? 'unknown', rule: undefined, path: raw, target: raw };
  observe(deps, req, res, call);
  const app = service === undefined ? undefined : deps.localServices(service);
  if (service === undefined || app === undefined || app.protocol === 'tcp' || policy.authorizer.mtlsMode(service) !== 'permissive') {
    replyError(req, res, new ProxyError('MERIDIAN_ERR_FORBIDDEN', `plaintext refused: ${String(req.headers.host)} is no local HTTP service in permissive mTLS mode (strict services take mTLS only)`));
    return;
  }
  const rejected = judgeTarget(raw, 'reject', call);
  if (rejected !== undefined) {
    call.rule = PATH_REJECTED_RULE;
    replyError(req, res, new ProxyError('MERIDIAN_ERR_BAD_REQUEST', `request target refused: ${rejected.reason}`));
    return;
  }
  const method = req.method ?? '';
  const decision = decideHttp(policy, anonymous(), service, method, call.path, req.headers);
  if (!decision.allowed) {
    call.rule = decision.rule;
    replyError(req, res, new ProxyError('MERIDIAN_ERR_POLICY_DENIED', denialMessage('an unauthenticated (plaintext) caller', service, `${method} ${call.path}`, decision, policy.version)));
    return;
  }
  const traceparent = nextTraceparent(req.headers.traceparent);
  await deps.apps.forward({ req, res, app, service, authority: `${service}.mesh`, target: call.target, caller: undefined, traceparent });
}

/**
 * The plaintext side of the inbound port, for services in permissive mTLS mode (a migration
 * aid). While no service is permissive, connections go straight to TLS, unread: the port stays
 * mTLS-only. Otherwise the first byte of each connection is read: a TLS handshake goes to the
 * TLS server, anything else to a strict HTTP/1.1 server that only serves permissive services.
 */
export function permissiveSniffer(deps: PermissiveDeps): PermissiveSniffer {
  let enabled = anyPermissive(deps.policy.current);
  let anonymous = anonymousOf(deps.policy.current);
  const stop = deps.policy.onChange((next) => {
    enabled = anyPermissive(next);
    anonymous = anonymousOf(next);
  });
  const plain = http.createServer({ requestTimeout: deps.timeouts.requestMs, headersTimeout: deps.timeouts.headersMs, keepAliveTimeout: deps.timeouts.idleMs });
  plain.on('request', (req: IncomingMessage, res: ServerResponse) => {
    deps.tracker.requestStarted(req.socket);
    res.once('close', () => deps.tracker.requestFinished(req.socket));
    handlePlain(deps, () => anonymous, req, res).catch(() => replyError(req, res, new ProxyError('MERIDIAN_ERR_UPSTREAM_RESET', 'internal proxy error')));
  });
  plain.on('clientError', (_error, socket) => socket.destroy());
  const sniff = (socket: Socket, tlsNext: (socket: Socket) => void): void => {
    if (!enabled) {
      tlsNext(socket);
      return;
    }
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) {
        tlsNext(socket);
        return;
      }
      deps.tracker.addHttp1(socket);
      plain.emit('connection', socket);
      socket.resume();
    });
  };
  return { sniff, stop };
}
