import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { CatalogEntry } from '../../../shared/catalog/index.js';
import type { MeshDialer, MeshTarget } from '../../../shared/mesh/index.js';
import { MeridianError } from '../../../shared/errors/index.js';

/** Where a target instance's mesh (inbound) port is. */
export interface MeshAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * The same-site dialer: a plain TCP connection to the instance's node agent. It resolves only
 * once connected, so a refused or unreachable instance fails the dial (and is ejected) rather
 * than the first request.
 */
export function directDialer(resolve: (target: MeshTarget) => MeshAddress | undefined): MeshDialer {
  return {
    dial: (target, signal) => {
      const address = resolve(target);
      if (address === undefined) {
        return Promise.reject(new MeridianError('MERIDIAN_ERR_NO_HEALTHY_UPSTREAM', `no mesh address for instance ${target.instanceId} of ${target.service} (site ${target.site})`));
      }
      return connect(address, signal);
    },
  };
}

/** Resolves targets from the catalog: the instance's address and the meshPort its agent published. */
export function catalogResolver(candidates: (service: string) => readonly CatalogEntry[]): (target: MeshTarget) => MeshAddress | undefined {
  return (target) => {
    const entry = candidates(target.service).find((e) => e.instance.instanceId === target.instanceId && e.instance.site === target.site);
    const port = entry?.instance.meshPort;
    return entry === undefined || port === undefined ? undefined : { host: entry.instance.address, port };
  };
}

function connect(address: MeshAddress, signal: AbortSignal | undefined): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port, noDelay: true });
    const fail = (error: unknown): void => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(error instanceof Error ? error : new MeridianError('MERIDIAN_ERR_UPSTREAM_CONNECT', String(error)));
    };
    const onAbort = (): void => fail(signal?.reason);
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}
