import Consul from 'consul';
import { MeridianError } from '../../shared/errors/index.js';
import { FROM_MERIDIAN, SOURCE_KEY, type ConsulRegistration, type Mirror, type MirrorHealth } from './mapping.js';
import type { MirrorWriter } from './mirror-set.js';

type RegisterOptions = Exclude<Parameters<Consul['agent']['service']['register']>[0], string>;

/** Where the sync finds Consul. */
export interface ConsulAccess {
  /** http(s)://host:port (Consul's HTTP API, without /v1). */
  readonly url: string;
  /** Sent as X-Consul-Token. */
  readonly token?: string;
}

/** A `consul` client for `url`; its blocking queries are cancelled by ending their watch. */
export function consulClient(access: ConsulAccess): Consul {
  const url = new URL(access.url);
  const secure = url.protocol === 'https:';
  return new Consul({
    host: url.hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    secure,
    defaults: access.token === undefined ? {} : { token: access.token },
  });
}

/** A failed call to Consul as a MeridianError naming the call and the URL: a 4xx is a refusal, anything else unavailability. */
export function consulError(call: string, url: string, cause: unknown): MeridianError {
  const status = (cause as { statusCode?: unknown }).statusCode;
  const message = (cause as Error).message;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new MeridianError('MERIDIAN_ERR_CONSUL_REFUSED', `${call} at Consul ${url}: refused (${status}): ${message}`, { cause });
  }
  return new MeridianError('MERIDIAN_ERR_CONSUL_UNAVAILABLE', `${call} at Consul ${url}: ${message}`, { cause });
}

/** The check id of a mirrored service: Consul's own name for a service's single check, given explicitly. */
export function checkIdOf(serviceId: string): string {
  return `service:${serviceId}`;
}

/** The Consul agent as the target of Meridian mirrors: agent service registrations with a ttl check. */
export class ConsulAgent implements MirrorWriter<ConsulRegistration> {
  readonly where: string;
  readonly #consul: Consul;
  readonly #url: string;

  constructor(consul: Consul, url: string) {
    this.#consul = consul;
    this.#url = url;
    this.where = `Consul agent ${url}`;
  }

  /** The Consul agent's datacenter (`GET /v1/agent/self`). */
  async datacenter(): Promise<string> {
    const self = (await this.#try('GET /v1/agent/self', () => this.#consul.agent.self())) as { Config?: { Datacenter?: unknown } } | undefined;
    const datacenter = self?.Config?.Datacenter;
    if (typeof datacenter !== 'string' || datacenter === '') {
      throw new MeridianError('MERIDIAN_ERR_CONSUL_UNAVAILABLE', `GET /v1/agent/self at Consul ${this.#url}: no Config.Datacenter in the answer (give --datacenter)`);
    }
    return datacenter;
  }

  /** Service ids on this Consul agent that a sync mirrored from Meridian site `site`. */
  async mirrored(site: string): Promise<string[]> {
    const services = (await this.#try('GET /v1/agent/services', () => this.#consul.agent.service.list())) as Record<string, { ID?: string; Meta?: Record<string, string> | null }>;
    return Object.values(services)
      .filter((s) => s.Meta?.[SOURCE_KEY] === FROM_MERIDIAN && s.Meta['meridian-site'] === site && typeof s.ID === 'string')
      .map((s) => s.ID ?? '');
  }

  async put(mirror: Mirror<ConsulRegistration>): Promise<void> {
    const { check, ...service } = mirror.body;
    // The client's typings want a timeout on every check; a ttl check has none.
    const options = { ...service, check: { ...check, checkid: checkIdOf(mirror.id) } } as RegisterOptions;
    await this.#try(`PUT /v1/agent/service/register (${mirror.id})`, () => this.#consul.agent.service.register(options));
  }

  async remove(id: string): Promise<void> {
    try {
      await this.#consul.agent.service.deregister(id);
    } catch (cause) {
      if ((cause as { statusCode?: unknown }).statusCode === 404) return;
      throw consulError(`PUT /v1/agent/service/deregister/${id}`, this.#url, cause);
    }
  }

  async report(id: string, health: MirrorHealth, note: string): Promise<void> {
    const check = { id: checkIdOf(id), note };
    if (health === 'passing') await this.#try(`PUT /v1/agent/check/pass/${check.id}`, () => this.#consul.agent.check.pass(check));
    else await this.#try(`PUT /v1/agent/check/fail/${check.id}`, () => this.#consul.agent.check.fail(check));
  }

  async #try<T>(call: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw consulError(call, this.#url, cause);
    }
  }
}
