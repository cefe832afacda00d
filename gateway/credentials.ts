import type { NatsConnection } from '@nats-io/transport-node';
import { generatePrivateKey, type LiveIdentity } from '../shared/identity/index.js';
import { requestCertificate, startRoleCredentials, type RoleCredentials } from '../shared/renewal/index.js';
import type { Logger } from '../shared/telemetry/index.js';
import type { GatewayConfig } from './config.js';
import type { Gateway } from './types.js';

/** What an operator does for a gateway whose certificate expired. */
export const GATEWAY_REISSUE_ADVICE = 'issue it a new certificate (`meridian ca issue --site <site> --kind gateway --name <name>` on the CA host) into its keyFile/certFile and restart it';

/** The gateway's own renewal and trust watch. */
export type GatewayCredentials = RoleCredentials;

/**
 * Renews the gateway's identity through its site's signer and follows the site's trust
 * document; each change goes into the tunnel server (new handshakes; open sessions run on) and
 * the links to other sites (their next dial). NATS reads the live identity at each reconnect.
 */
export function startGatewayCredentials(options: { config: GatewayConfig; live: LiveIdentity; nc: NatsConnection; gateway: Gateway; log: Logger }): GatewayCredentials {
  const { config, live, gateway } = options;
  const unsubscribe = live.onChange((next) => gateway.setIdentity(next));
  const credentials = startRoleCredentials({
    role: 'gateway',
    live,
    issue: (current) => requestCertificate({ nc: options.nc, caller: current, site: config.site, uri: gateway.id.uri, key: generatePrivateKey(), commonName: config.name }),
    files: { keyFile: config.keyFile, certFile: config.certFile },
    whenExpired: GATEWAY_REISSUE_ADVICE,
    connection: () => Promise.resolve(options.nc),
    site: config.site,
    bundleFile: config.nats.bundleFile,
    log: options.log,
  });
  return {
    ...credentials,
    stop() {
      credentials.stop();
      unsubscribe();
    },
  };
}
