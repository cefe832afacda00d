import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { existsSync } from 'node:fs';
import { siteConnectOptions } from '../../shared/catalog/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { loadMtlsIdentity, ownIdentity, type MtlsIdentity, type PkiDirectory } from '../../shared/identity/index.js';

/** The control identity on disk when it is still valid, else a fresh one (as the control service does at start). */
export function currentControlIdentity(pki: PkiDirectory, site: string): MtlsIdentity {
  const paths = pki.identityPaths(site, 'svc', 'control');
  if (existsSync(paths.key) && existsSync(paths.cert)) {
    try {
      const identity = loadMtlsIdentity({ keyFile: paths.key, certFile: paths.cert, bundleFile: pki.bundlePath, trustDomain: pki.trustDomain() });
      ownIdentity(identity, paths.cert, 'svc');
      return identity;
    } catch {
      // Expired or unreadable: issued anew below, as the control service would.
    }
  }
  return pki.issueMtlsIdentity(site, 'svc', 'control');
}

/** Options of {@link connectAsControl}. */
export interface ControlConnectOptions {
  readonly pki: PkiDirectory;
  readonly site: string;
  readonly natsUrl: string;
  /** A function (e.g. `() => live.current`) makes every reconnect present the identity of that moment. */
  readonly identity: MtlsIdentity | (() => MtlsIdentity);
  /** The connection's name in the server's monitoring; default `meridian-<site>`. */
  readonly name?: string;
  /** The control user's password; default the PKI dir's for the site. */
  readonly password?: string;
  /** nats.js options over the site defaults (e.g. no reconnects for a one-shot command). */
  readonly overrides?: Partial<ConnectionOptions>;
}

/** Connects to the site's NATS as its control user; an unreachable server is MERIDIAN_ERR_CATALOG_UNAVAILABLE naming the URL. */
export async function connectAsControl(options: ControlConnectOptions): Promise<NatsConnection> {
  const { site, natsUrl } = options;
  const password = options.password ?? options.pki.siteNatsPasswords(site).control;
  const name = options.name === undefined ? {} : { name: options.name };
  try {
    return await connect({ ...siteConnectOptions({ servers: natsUrl, site, user: 'control', password, identity: options.identity, ...name }), ...options.overrides });
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot reach the site's NATS at ${natsUrl}: ${(cause as Error).message}`, { cause });
  }
}
