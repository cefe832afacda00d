import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { mtlsClientOptions, mtlsServerOptions, peerIdentity, readPrivateKey } from '../../shared/identity/index.js';
import type { DemoFederation, RunningSite } from './federation.js';

/** Proves two sites' gateways authenticate each other over mTLS with identities of one trust domain. */
export async function checkCrossSiteMtls(federation: DemoFederation, from: RunningSite, to: RunningSite): Promise<string> {
  const bundle = federation.pki.loadBundle();
  const identity = (site: RunningSite) => ({ privateKey: readPrivateKey(site.gateway.keyPath), chain: site.gateway.chain, bundle });
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

/** Writes a key into a bucket owned by `from` and reads it back from `to` through the supercluster. */
export async function checkCrossSiteCatalogRead(from: RunningSite, to: RunningSite): Promise<number> {
  const writer = await connect({ servers: from.natsUrl });
  const reader = await connect({ servers: to.natsUrl });
  try {
    const bucket = `demo_${from.name.replace(/-/g, '_')}`;
    const kv = await new Kvm(jetstream(writer, { timeout: 5000 })).create(bucket, { placement: { cluster: from.name, tags: [] } });
    const started = performance.now();
    await kv.put('hello', `from ${from.name}`);
    const remote = await new Kvm(jetstream(reader, { timeout: 5000 })).open(bucket);
    const entry = await remote.get('hello');
    if (entry?.string() !== `from ${from.name}`) throw new Error(`${to.name} did not read ${from.name}'s entry`);
    return performance.now() - started;
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
}
