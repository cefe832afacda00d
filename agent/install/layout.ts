import { AgentConfigSchema } from '../config.js';
import { parseConfig } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';

/**
 * Where an installed agent lives (the contract `meridian agent install`, `meridian agent join`
 * and the Terraform `vm-agent` module share). Paths on the target system; `--root` prefixes them
 * only when files are written.
 */
export const INSTALLED_AGENT = Object.freeze({
  unitFile: '/etc/systemd/system/meridian-agent.service',
  unitName: 'meridian-agent.service',
  sysusersFile: '/usr/lib/sysusers.d/meridian.conf',
  configDir: '/etc/meridian',
  configFile: '/etc/meridian/agent.json',
  stateDir: '/var/lib/meridian',
  dataDir: '/var/lib/meridian/agent',
  credentialsDir: '/var/lib/meridian/credentials',
  user: 'meridian',
  /** npm's global bin on Debian (`npm install -g` as root). */
  bin: '/usr/local/bin/meridian',
});

/** The credential files `meridian agent join` writes (0600) and renewal rewrites. */
export const INSTALLED_CREDENTIALS = Object.freeze({
  keyFile: `${INSTALLED_AGENT.credentialsDir}/agent.key`,
  certFile: `${INSTALLED_AGENT.credentialsDir}/agent.crt`,
  bundleFile: `${INSTALLED_AGENT.credentialsDir}/bundle.pem`,
  passwordFile: `${INSTALLED_AGENT.credentialsDir}/nats-password`,
});

/** The single line of `/usr/lib/sysusers.d/meridian.conf`. */
export const SYSUSERS_LINE = `u ${INSTALLED_AGENT.user} - "Meridian agent" ${INSTALLED_AGENT.stateDir}`;

/** An agent config as installed: what the operator gave, with the installed layout's paths where it named none. */
export interface InstalledConfig {
  /** The JSON written to `/etc/meridian/agent.json`. */
  readonly text: string;
  /** Whether the api or mesh port is privileged (below 1024): the unit then grants CAP_NET_BIND_SERVICE. */
  readonly privilegedPort: boolean;
}

/**
 * Completes and validates an agent config for the installed layout: credential paths in
 * `/var/lib/meridian/credentials` and the data dir `/var/lib/meridian/agent`, unless the config
 * already sets them. Errors name `source` and every bad field, as `meridian agent run` would.
 */
export function installedConfig(raw: unknown, source: string): InstalledConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `${source}: invalid configuration: /: must be a JSON object`);
  }
  const given = raw as Record<string, unknown>;
  const nats = given.nats !== null && typeof given.nats === 'object' && !Array.isArray(given.nats) ? (given.nats as Record<string, unknown>) : undefined;
  const completed: Record<string, unknown> = {
    ...given,
    ...(nats === undefined ? {} : { nats: { ...nats, ...Object.fromEntries(Object.entries(INSTALLED_CREDENTIALS).filter(([field]) => nats[field] === undefined)) } }),
    dataDir: given.dataDir ?? INSTALLED_AGENT.dataDir,
  };
  const config = parseConfig(AgentConfigSchema, completed, source);
  const privileged = (port: number | undefined): boolean => port !== undefined && port > 0 && port < 1024;
  return {
    text: `${JSON.stringify(completed, null, 2)}\n`,
    privilegedPort: privileged(config.api.port) || privileged(config.mesh?.inboundPort),
  };
}
