import type { NatsConnection } from '@nats-io/transport-node';
import { MeridianError } from '../../shared/errors/index.js';
import { generatePrivateKey, loadMtlsIdentity, ownIdentity, type LiveIdentity, type MtlsIdentity } from '../../shared/identity/index.js';
import { requestCertificate, startRoleCredentials, type RoleCredentials } from '../../shared/renewal/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import type { AgentConfig } from '../config.js';

/** What an operator does for an agent whose certificate expired: only a new join gives it one. */
export const REJOIN_ADVICE = 'rejoin with `meridian agent join --token <token> --control <host:port>` (a token from `meridian token create --site <site> --node <node>`)';

/**
 * The agent's own identity from its files. An expired certificate fails the start: the signer
 * renews only certificates that are still valid, so the agent must rejoin with a token.
 */
export function loadAgentIdentity(config: AgentConfig, now = Date.now()): MtlsIdentity {
  const { keyFile, certFile, bundleFile, trustDomain } = config.nats;
  const identity = loadMtlsIdentity({ keyFile, certFile, bundleFile, trustDomain });
  const leaf = identity.chain[0];
  if (leaf !== undefined && Date.parse(leaf.validTo) <= now) {
    throw new MeridianError('MERIDIAN_ERR_CERT_EXPIRED', `${certFile}: the agent certificate expired at ${new Date(leaf.validTo).toISOString()}; ${REJOIN_ADVICE}`, {
      details: { field: '/nats/certFile' },
    });
  }
  return identity;
}

/** The agent's own renewal and trust watch. */
export type AgentCredentials = RoleCredentials;

/** Renews the agent's identity through the site's signer (rewriting its key and cert files) and follows the site's trust document (rewriting its bundle file). */
export function startAgentCredentials(options: { config: AgentConfig; live: LiveIdentity; connection: () => Promise<NatsConnection>; log: Logger }): AgentCredentials {
  const { config, live } = options;
  const uri = ownIdentity(live.current, 'agent identity', 'agent').uri;
  return startRoleCredentials({
    role: 'agent',
    live,
    issue: async (current) => requestCertificate({ nc: await options.connection(), caller: current, site: config.site, uri, key: generatePrivateKey(), commonName: config.node }),
    files: { keyFile: config.nats.keyFile, certFile: config.nats.certFile },
    whenExpired: REJOIN_ADVICE,
    connection: options.connection,
    site: config.site,
    bundleFile: config.nats.bundleFile,
    log: options.log,
  });
}
