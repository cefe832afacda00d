import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ERROR_STATUS, MeridianError, type ErrorCode } from '../../shared/errors/index.js';
import { InstancesSchema, type Instances } from './schemas.js';

/** Where a client finds an agent's API, and the token it authenticates with. */
export interface AgentClientOptions {
  /** e.g. http://127.0.0.1:8510 */
  readonly url: string;
  readonly token: string;
  readonly timeoutMs?: number;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}

/**
 * GETs `path` with the token and reads the answer with the route's own response schema: an
 * unreachable agent is MERIDIAN_ERR_CATALOG_UNAVAILABLE, a refusal keeps the agent's error code,
 * and an answer that does not match the schema is MERIDIAN_ERR_BAD_GATEWAY.
 */
export async function agentGet<T extends TSchema>(options: AgentClientOptions, path: string, schema: T): Promise<Static<T>> {
  const url = `${options.url}${path}`;
  let response: Response;
  let body: unknown;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${options.token}` }, signal: AbortSignal.timeout(options.timeoutMs ?? 5000) });
    body = await response.json();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CATALOG_UNAVAILABLE', `cannot reach the agent at ${url}: ${(cause as Error).message}`, { cause });
  }
  if (!response.ok) {
    const error = body as { code?: unknown; message?: unknown };
    const code = isErrorCode(error.code) ? error.code : 'MERIDIAN_ERR_BAD_GATEWAY';
    throw new MeridianError(code, `agent answered ${response.status}: ${typeof error.message === 'string' ? error.message : ''}`);
  }
  const first = Value.Errors(schema, body).First();
  if (first !== undefined) throw new MeridianError('MERIDIAN_ERR_BAD_GATEWAY', `the agent at ${url} answered ${first.path || '/'}: ${first.message}, not what its API schema says`);
  return body;
}

/** `GET /v1/instances` with the given filters (service, site, region, health, label=k=v...). */
export function fetchInstances(options: AgentClientOptions, query: URLSearchParams): Promise<Instances> {
  return agentGet(options, `/v1/instances?${query.toString()}`, InstancesSchema);
}
