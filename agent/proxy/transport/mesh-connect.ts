import type { EventEmitter } from 'node:events';
import http2, { type ClientHttp2Session } from 'node:http2';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { ServiceInstance } from '../../../shared/catalog/index.js';
import { mtlsClientOptions, mtlsContextOptions, type MtlsIdentity } from '../../../shared/identity/index.js';
import { meshServerName, type MeshAlpn, type MeshDialer } from '../../../shared/mesh/index.js';
import { MeridianError } from '../../../shared/errors/index.js';
import { CallerRefused, TCP_ACCEPTED, TCP_FORBIDDEN } from './refusal.js';

/** Dialing or the nested handshake to an instance failed: nothing was sent, the instance is suspect. */
export class ConnectFailure extends MeridianError {
  constructor(instance: ServiceInstance, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('MERIDIAN_ERR_UPSTREAM_CONNECT', `connecting to instance ${instance.instanceId} of ${instance.service} (site ${instance.site}) failed: ${reason}`, { cause });
    this.name = 'ConnectFailure';
  }
}

/** What a nested session needs: who calls, how to reach the instance, and how long to try. */
export interface NestedConnectOptions {
  readonly dialer: MeshDialer;
  readonly identity: MtlsIdentity;
  readonly instance: ServiceInstance;
  readonly alpn: MeshAlpn;
  readonly timeoutMs: number;
}

// Parsing the key and chain once per identity, not once per connection.
const contexts = new WeakMap<MtlsIdentity, SecureContext>();

function secureContextOf(identity: MtlsIdentity): SecureContext {
  let context = contexts.get(identity);
  if (context === undefined) {
    context = tls.createSecureContext(mtlsContextOptions(identity));
    contexts.set(identity, context);
  }
  return context;
}

/**
 * Opens the calling workload's own TLS 1.3 session to an instance's inbound listener, inside
 * whatever byte stream the dialer returns (a TCP connection, or a CONNECT stream through the
 * gateways). The server must prove it is `service` at the instance's site, so a gateway or a
 * wrong instance can't answer in its place.
 */
export async function connectNested(options: NestedConnectOptions): Promise<TLSSocket> {
  return withDeadline(options, async (signal) => {
    const socket = await nestedTls(options, signal);
    if (options.alpn === 'meridian-tcp') await tcpAccepted(socket, options.instance, signal);
    return socket;
  });
}

/**
 * Waits for the destination agent's first byte on a raw TCP session (transport/refusal.ts): it
 * comes once the app took the connection, so a dead app is a failed connect (retried
 * elsewhere) rather than a connection that dies after the client sent its first bytes. Bytes
 * of the app that came along stay in the socket for the pipe.
 */
function tcpAccepted(socket: TLSSocket, instance: ServiceInstance, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', done);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (error === undefined) return resolve();
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      socket.pause();
      if (chunk.length > 1) socket.unshift(chunk.subarray(1));
      if (chunk[0] === TCP_ACCEPTED) return done();
      if (chunk[0] === TCP_FORBIDDEN) return done(new CallerRefused(`instance ${instance.instanceId} of ${instance.service} (site ${instance.site}) refused this caller`));
      done(new MeridianError('MERIDIAN_ERR_UPSTREAM_CONNECT', `the agent of instance ${instance.instanceId} could not reach its app`));
    };
    const onEnd = (): void => done(new MeridianError('MERIDIAN_ERR_UPSTREAM_CONNECT', 'connection closed before the destination accepted it'));
    const onAbort = (): void => done(signal.reason as Error);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.once('error', done);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/**
 * An HTTP/2 session over a nested TLS session to an instance. It counts as connected only once
 * the server's SETTINGS arrived: under TLS 1.3 the client finishes its handshake before the
 * server has checked the client certificate, and a refusal must surface here, before any
 * request byte is sent, where retrying elsewhere is safe.
 */
export async function connectMeshSession(options: Omit<NestedConnectOptions, 'alpn'>): Promise<ClientHttp2Session> {
  return withDeadline(options, async (signal) => {
    const socket = await nestedTls({ ...options, alpn: 'h2' }, signal);
    const session = http2.connect(`https://${meshServerName(options.instance.service)}`, { createConnection: () => socket });
    // The pool adds its own listeners; until then an error must not crash the process.
    session.on('error', () => undefined);
    socket.on('error', () => undefined);
    await settled(session, 'remoteSettings', signal, () => session.destroy());
    return session;
  });
}

/** Runs `connect` under the options' deadline; every failure becomes a {@link ConnectFailure}. */
async function withDeadline<R>(options: { instance: ServiceInstance; timeoutMs: number }, connect: (signal: AbortSignal) => Promise<R>): Promise<R> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new MeridianError('MERIDIAN_ERR_TIMEOUT', `timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
  try {
    return await connect(abort.signal);
  } catch (cause) {
    // A refused caller is an answer, not a fault of the instance: no retry elsewhere, no ejection.
    if (cause instanceof CallerRefused) throw cause;
    throw new ConnectFailure(options.instance, abort.signal.aborted ? abort.signal.reason : cause);
  } finally {
    clearTimeout(timer);
  }
}

async function nestedTls(options: NestedConnectOptions, signal: AbortSignal): Promise<TLSSocket> {
  const { instance } = options;
  const duplex = await options.dialer.dial({ site: instance.site, service: instance.service, instanceId: instance.instanceId }, signal);
  if (signal.aborted) {
    duplex.destroy();
    throw signal.reason;
  }
  // The TLS socket on top reports transport failures; this keeps a raw-stream error from crashing.
  duplex.on('error', () => undefined);
  const expect = (peer: { kind: string; name: string; site: string }): boolean =>
    peer.kind === 'svc' && peer.name === instance.service && peer.site === instance.site;
  const socket = tls.connect({
    ...mtlsClientOptions(options.identity, expect),
    secureContext: secureContextOf(options.identity),
    socket: duplex,
    servername: meshServerName(instance.service),
    ALPNProtocols: [options.alpn],
  });
  await settled(socket, 'secureConnect', signal, () => {
    socket.destroy();
    duplex.destroy();
  });
  if (socket.alpnProtocol !== options.alpn) {
    socket.destroy();
    throw new MeridianError('MERIDIAN_ERR_UPSTREAM_PROTOCOL', `peer negotiated ALPN ${String(socket.alpnProtocol)}, not ${options.alpn}`);
  }
  return socket;
}

/** Resolves on `event`; rejects (after `cleanup`) on error, close or abort, whichever comes first. */
function settled(emitter: EventEmitter, event: string, signal: AbortSignal, cleanup: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      emitter.off(event, onEvent);
      emitter.off('error', onError);
      emitter.off('close', onClose);
      if (error === undefined) {
        resolve();
        return;
      }
      cleanup();
      reject(error instanceof Error ? error : new MeridianError('MERIDIAN_ERR_UPSTREAM_CONNECT', `${event} failed`, { cause: error }));
    };
    const onEvent = (): void => done();
    const onError = (error: Error): void => done(error);
    const onClose = (): void => done(new MeridianError('MERIDIAN_ERR_UPSTREAM_CONNECT', `connection closed before ${event}`));
    const onAbort = (): void => done(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    emitter.once(event, onEvent);
    emitter.once('error', onError);
    emitter.once('close', onClose);
  });
}
