/**
 * A site's control-user NATS connection for tests that watch which certificate nats-server
 * serves (a reload by SIGHUP, a root rotation): no reconnects, so a refused chain fails at once.
 */
import type { PeerCertificate } from 'node:tls';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { siteConnectOptions } from '../../shared/catalog/index.js';
import type { MtlsIdentity } from '../../shared/identity/index.js';

/** A connection and what the server presented on it. */
export interface ControlClient {
  readonly nc: NatsConnection;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly served: string;
}

/** Connects as the site's control user with `identity`, recording the server certificate's fingerprint. */
export async function dialControl(options: { url: string; site: string; password: string; identity: MtlsIdentity; name: string }): Promise<ControlClient> {
  const connectOptions = siteConnectOptions({ servers: options.url, site: options.site, user: 'control', password: options.password, identity: options.identity, name: options.name });
  const tls = connectOptions.tls as { checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined };
  const check = tls.checkServerIdentity;
  let served = '';
  const nc = await connect({
    ...connectOptions,
    maxReconnectAttempts: 0,
    timeout: 3000,
    tls: { ...tls, checkServerIdentity: (host: string, cert: PeerCertificate) => ((served = cert.fingerprint256), check(host, cert)) } as NonNullable<ConnectionOptions['tls']>,
  });
  return { nc, served };
}
