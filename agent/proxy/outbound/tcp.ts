import net, { type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type ServiceInstance, instanceKey } from '../../../shared/catalog/index.js';
import type { Logger } from '../../../shared/telemetry/index.js';
import type { Balancer } from './balancer.js';
import type { ConnectionTracker } from '../listener/drain.js';
import { connectNested, ConnectFailure } from '../transport/mesh-connect.js';
import type { MeshPool } from '../transport/mesh-pool.js';
import { pipe, type MeshDialer } from '../../../shared/mesh/index.js';
import { tcpRecord, type RequestObserver } from '../records.js';
import { MeridianError } from '../../../shared/errors/index.js';

/** What an upstream TCP port needs. */
export interface OutboundTcpDeps {
  readonly balancer: Balancer;
  /** Source of the caller's current identity. */
  readonly pool: MeshPool;
  readonly dialer: MeshDialer;
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
  readonly tracker: ConnectionTracker;
  readonly logger: Logger;
  /** The calling local service, for the connection records. */
  readonly caller: string;
  readonly onRequest: RequestObserver | undefined;
}

/** Opens a nested 'meridian-tcp' session, moving to another instance when connecting fails. */
async function connectAny(deps: OutboundTcpDeps, service: string): Promise<{ socket: TLSSocket; instance: ServiceInstance }> {
  const tried = new Set<string>();
  let last: ConnectFailure | undefined;
  for (let n = 0; n < deps.maxAttempts; n++) {
    let instance: ServiceInstance;
    try {
      instance = deps.balancer.pick(service, tried);
    } catch (error) {
      throw last ?? error;
    }
    tried.add(instanceKey(instance));
    try {
      const identity = deps.pool.currentIdentity();
      const socket = await connectNested({ dialer: deps.dialer, identity, instance, alpn: 'meridian-tcp', timeoutMs: deps.connectTimeoutMs });
      deps.balancer.connected(instance);
      return { socket, instance };
    } catch (error) {
      if (!(error instanceof ConnectFailure)) throw error;
      deps.balancer.connectFailed(instance);
      last = error;
    }
  }
  throw last ?? new MeridianError('MERIDIAN_ERR_NO_HEALTHY_UPSTREAM', `no instance of ${service} accepted the connection`);
}

/** A local client connected to the upstream port: pick, dial, nested TLS, pipe. */
async function serve(deps: OutboundTcpDeps, service: string, client: Socket): Promise<void> {
  const startedAt = Date.now();
  const { socket, instance } = await connectAny(deps, service);
  if (client.destroyed) {
    socket.destroy();
    return;
  }
  deps.balancer.begin(instance);
  socket.once('close', () => {
    deps.balancer.end(instance);
    deps.onRequest?.(tcpRecord({ direction: 'outbound', service: deps.caller, peerService: service, peerSite: instance.site, startedAt }));
  });
  void pipe(client, socket);
}

/** A plain TCP listener on localhost that carries each connection to an instance of `service`. */
export function createUpstreamServer(deps: OutboundTcpDeps, service: string): net.Server {
  // pauseOnConnect: the client's first bytes wait in the kernel until the mesh side is up.
  // allowHalfOpen: a client that sends and then shuts its side down still gets the answer.
  return net.createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (client) => {
    client.on('error', () => undefined);
    deps.tracker.addRaw(client);
    serve(deps, service, client).catch((error: unknown) => {
      deps.logger.warn('outbound tcp: no instance reachable', { service, reason: error instanceof Error ? error.message : String(error) });
      client.destroy();
    });
  });
}
