import { Value } from '@sinclair/typebox/value';
import type { TSchema, Static } from '@sinclair/typebox';
import { ERROR_STATUS, MeridianError, type ErrorCode } from '../../shared/errors/index.js';
import type { ServiceDefinition } from '../../shared/catalog/index.js';
import { AgentInfoSchema, InstancesSchema, LocalSchema, type AgentClientOptions, type Instances } from '../../agent/api/index.js';
import { FROM_CONSUL, SOURCE_KEY, type Mirror, type MirrorHealth } from './mapping.js';
import type { MirrorWriter } from './mirror-set.js';

interface Call {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

function errorCode(code: unknown): ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code) ? (code as ErrorCode) : 'MERIDIAN_ERR_BAD_GATEWAY';
}

/**
 * The local Meridian agent's API, as the sync uses it: where it writes mirrors of Consul services
 * (as API registrations, under the agent's own rules) and where it reads the site's instances.
 */
export class MeridianAgent implements MirrorWriter<ServiceDefinition> {
  readonly where: string;
  readonly #options: AgentClientOptions;

  constructor(options: AgentClientOptions) {
    this.#options = options;
    this.where = `Meridian agent ${options.url}`;
  }

  /** The agent's node and site (`GET /v1/agent`). */
  info(): Promise<Static<typeof AgentInfoSchema>> {
    return this.#read({ method: 'GET', path: '/v1/agent' }, AgentInfoSchema);
  }

  /** Instance ids this agent holds that a sync mirrored from Consul datacenter `datacenter`, with their service. */
  async mirrored(datacenter: string): Promise<{ id: string; service: string }[]> {
    const local = await this.#read({ method: 'GET', path: '/v1/local' }, LocalSchema);
    return local.registrations
      .filter((r) => r.source.kind === 'api' && r.instance.labels[SOURCE_KEY] === FROM_CONSUL && r.instance.labels['consul-dc'] === datacenter)
      .map((r) => ({ id: r.instance.instanceId, service: r.instance.service }));
  }

  /** `GET /v1/instances?site=` as a blocking query from `index` (0: at once). */
  instances(site: string, blocking: { index: number; waitMs: number; signal: AbortSignal }): Promise<Instances> {
    const query = new URLSearchParams({ site, index: String(blocking.index), wait: `${Math.round(blocking.waitMs / 1000)}s` });
    return this.#read({ method: 'GET', path: `/v1/instances?${query.toString()}`, signal: blocking.signal, timeoutMs: blocking.waitMs + 10_000 }, InstancesSchema);
  }

  async put(mirror: Mirror<ServiceDefinition>): Promise<void> {
    await this.#call({ method: 'POST', path: '/v1/services', body: mirror.body });
  }

  async remove(id: string): Promise<void> {
    const response = await this.#call({ method: 'DELETE', path: `/v1/services/${encodeURIComponent(id)}` }, [404]);
    await response.body?.cancel();
  }

  async report(id: string, health: MirrorHealth, note: string): Promise<void> {
    const path = health === 'passing' ? `/v1/checks/${encodeURIComponent(id)}/pass` : `/v1/checks/${encodeURIComponent(id)}/fail?${new URLSearchParams({ note }).toString()}`;
    await this.#call({ method: 'PUT', path });
  }

  async #read<T extends TSchema>(call: Call, schema: T): Promise<Static<T>> {
    const response = await this.#call(call);
    const body: unknown = await response.json().catch(() => undefined);
    const first = Value.Errors(schema, body).First();
    if (first !== undefined) {
      throw new MeridianError('MERIDIAN_ERR_BAD_GATEWAY', `${call.method} ${this.#options.url}${call.path}: the answer's ${first.path || '/'} ${first.message}, not what the agent API's schema says`);
    }
    return body;
  }

  /** One request with the bearer token; a refusal keeps the agent's code and message, naming the call. */
  async #call(call: Call, allowed: readonly number[] = []): Promise<Response> {
    const url = `${this.#options.url}${call.path}`;
    const timeout = AbortSignal.timeout(call.timeoutMs ?? this.#options.timeoutMs ?? 5000);
    let response: Response;
    try {
      response = await fetch(url, {
        method: call.method,
        headers: { authorization: `Bearer ${this.#options.token}`, ...(call.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal: call.signal === undefined ? timeout : AbortSignal.any([call.signal, timeout]),
      });
    } catch (cause) {
      throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `${call.method} ${url}: cannot reach the Meridian agent: ${(cause as Error).message}`, { cause });
    }
    if (response.ok || allowed.includes(response.status)) return response;
    const error = (await response.json().catch(() => ({}))) as { code?: unknown; message?: unknown };
    const message = typeof error.message === 'string' ? error.message : '';
    throw new MeridianError(errorCode(error.code), `${call.method} ${url}: the Meridian agent answered ${response.status}: ${message}`);
  }
}
