import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { mtlsClientOptions, mtlsServerOptions, peerIdentity, readPrivateKey, type MtlsIdentity } from '../../shared/identity/index.js';
import type { DemoFederation, RunningSite } from './federation.js';

/** Proves two sites' gateways authenticate each other over mTLS with identities of one trust domain. */
export async function checkCrossSiteMtls(federation: DemoFederation, from: RunningSite, to: RunningSite): Promise<string> {
  const bundle = federation.pki.loadBundle();
  const identity = (site: RunningSite): MtlsIdentity => ({ privateKey: readPrivateKey(site.gateway.keyPath), chain: site.gateway.chain, bundle });
  const server = tls.createServer(mtlsServerOptions(identity(to)), (socket) => {
    socket.on('error', () => undefined);
    socket.end(peerIdentity(socket, bundle, 'client').uri);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...mtlsClientOptions(identity(from)) });
    let seenByServer = '';
    socket.on('data', (chunk: Buffer) => {
      seenByServer += chunk.toString();
    });
    await once(socket, 'secureConnect');
    const seenByClient = peerIdentity(socket, bundle, 'server').uri;
    await once(socket, 'end');
    socket.destroy();
    return `${seenByServer} -> ${seenByClient} (TLS 1.3, mutual)`;
  } finally {
    server.close();
  }
}

/** Waits until `at`'s agent sees `from`'s workload as usable; returns how long that took. */
export async function checkCrossSiteCatalog(from: RunningSite, at: RunningSite, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const usable = (): boolean => at.agent.view.query({ service: from.workload.service }).some((e) => e.usable);
  while (!usable()) {
    if (Date.now() > deadline) throw new Error(`${at.name} never saw ${from.workload.service} of ${from.name} as usable`);
    await at.agent.view.waitForChange(at.agent.view.revision, 250);
  }
  return performance.now() - started;
}
