import type { ServiceDefinition } from '../../shared/catalog/index.js';
import { parseDuration } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { ConsulAgent, consulClient, type ConsulAccess } from './consul-agent.js';
import { ConsulToMeridian } from './from-consul.js';
import { MeridianToConsul } from './from-meridian.js';
import type { ConsulRegistration } from './mapping.js';
import { MeridianAgent } from './meridian-agent.js';
import { MirrorSet } from './mirror-set.js';

export { FROM_CONSUL, FROM_MERIDIAN, SOURCE_KEY } from './mapping.js';

/** What `meridian consul sync` runs with (the CLI checks and defaults each flag). */
export interface ConsulSyncOptions {
  readonly consul: ConsulAccess;
  /** The Meridian site the agent belongs to: where Consul's services are mirrored. */
  readonly site: string;
  /** The local Meridian agent's API and its token: the sync writes through it, under its rules. */
  readonly agent: { readonly url: string; readonly token: string };
  /** Consul's datacenter to mirror (default: the Consul agent's own). */
  readonly datacenter?: string;
  /** Also mirror the site's Meridian services into Consul. */
  readonly toConsul: boolean;
  /** Mark mirrors exported: other Meridian sites may call them through the gateways. */
  readonly export: boolean;
  readonly protocol: ServiceDefinition['protocol'];
  /** Consul's blocking wait (at most 10m). */
  readonly wait: string;
  /** The mirrors' ttl checks, passed every third of it. */
  readonly ttl: string;
  readonly maxServices: number;
  readonly maxInstances: number;
  readonly log: Logger;
}

/** A running sync. */
export interface ConsulSync {
  readonly datacenter: string;
  /** Ends the blocking queries, then removes every mirror it wrote, in both directions. */
  stop(): Promise<void>;
}

/**
 * Starts mirroring: checks both ends first (Consul's datacenter, the agent's site), takes over
 * mirrors an earlier run left, then follows Consul (and, with `toConsul`, the site) until stopped.
 */
export async function startConsulSync(options: ConsulSyncOptions): Promise<ConsulSync> {
  const consul = consulClient(options.consul);
  try {
    return await start(options, consul);
  } catch (error) {
    consul.destroy();
    throw error;
  }
}

async function start(options: ConsulSyncOptions, consul: ReturnType<typeof consulClient>): Promise<ConsulSync> {
  const { log } = options;
  const consulAgent = new ConsulAgent(consul, options.consul.url);
  const agent = new MeridianAgent(options.agent);
  const info = await agent.info();
  if (info.site !== options.site) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--site ${options.site}: the Meridian agent at ${options.agent.url} belongs to site ${info.site}`);
  }
  const datacenter = options.datacenter ?? (await consulAgent.datacenter());
  const toMeridian = new MirrorSet<ServiceDefinition>({ writer: agent, maxInstances: options.maxInstances, log });
  for (const { id, service } of await agent.mirrored(datacenter)) toMeridian.adopt(id, service);
  const fromConsul = new ConsulToMeridian({
    consul,
    url: options.consul.url,
    mapping: { datacenter, protocol: options.protocol, export: options.export, ttl: options.ttl },
    mirrors: toMeridian,
    wait: options.wait,
    maxServices: options.maxServices,
    log,
  });
  let fromMeridian: MeridianToConsul | undefined;
  let toConsul: MirrorSet<ConsulRegistration> | undefined;
  if (options.toConsul) {
    toConsul = new MirrorSet<ConsulRegistration>({ writer: consulAgent, maxInstances: options.maxInstances, log });
    for (const id of await consulAgent.mirrored(options.site)) toConsul.adopt(id, 'site');
    fromMeridian = new MeridianToConsul({ agent, site: options.site, mirrors: toConsul, ttl: options.ttl, waitMs: 60_000, log });
  }
  fromConsul.start();
  fromMeridian?.start();
  const sets = [toMeridian, ...(toConsul === undefined ? [] : [toConsul])];
  const refresh = setInterval(() => void Promise.all(sets.map((s) => s.refresh())), parseDuration(options.ttl, '--ttl') / 3);
  log.info('consul sync started', { consul: options.consul.url, datacenter, site: options.site, agent: options.agent.url, toConsul: options.toConsul });
  return {
    datacenter,
    async stop() {
      clearInterval(refresh);
      fromConsul.stop();
      await fromMeridian?.stop();
      await Promise.all(sets.map((s) => s.clear()));
      consul.destroy();
      log.info('consul sync stopped: mirrors removed', { datacenter, site: options.site });
    },
  };
}
