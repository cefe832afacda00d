import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/telemetry/index.js';
import { toConsul, type ConsulRegistration, type Mirror } from './mapping.js';
import type { MeridianAgent } from './meridian-agent.js';
import type { MirrorSet } from './mirror-set.js';

/** Options of {@link MeridianToConsul}. */
export interface MeridianToConsulOptions {
  readonly agent: MeridianAgent;
  readonly site: string;
  readonly mirrors: MirrorSet<ConsulRegistration>;
  /** The Consul check ttl of each mirror (passed every third of it). */
  readonly ttl: string;
  /** The agent API's blocking wait (it serves at most 60 s). */
  readonly waitMs: number;
  readonly log: Logger;
}

/** The one group of this direction: the whole site's instances come in one answer. */
const GROUP = 'site';

/**
 * Mirrors the Meridian site's instances into Consul: a blocking query on the agent's
 * `/v1/instances?site=` that returns on every catalog change, each answer written before the
 * next query, so changes follow within one round. Instances mirrored from Consul are skipped.
 */
export class MeridianToConsul {
  readonly #options: MeridianToConsulOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: MeridianToConsulOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { agent, site, mirrors, log } = this.#options;
    const signal = this.#stop.signal;
    let index = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const answer = await agent.instances(site, { index, waitMs: this.#options.waitMs, signal });
        failures = 0;
        if (answer.index === index && index !== 0) continue;
        index = answer.index;
        const wanted: Mirror<ConsulRegistration>[] = [];
        for (const row of answer.instances) {
          const mirror = toConsul(row, this.#options.ttl);
          if ('id' in mirror) wanted.push(mirror);
        }
        await mirrors.apply(GROUP, wanted);
      } catch (error) {
        if (signal.aborted) return;
        failures += 1;
        log.warn('consul sync: reading the Meridian site failed; retrying', { agent: agent.where, site, error: (error as Error).message });
        await sleep(Math.min(250 * 2 ** failures, 10_000), undefined, { signal }).catch(() => undefined);
      }
    }
  }
}
