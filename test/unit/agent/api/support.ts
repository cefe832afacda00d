import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { FederatedView, SiteState, parseServiceDefinition, toInstance, type NodeContext } from '../../../../shared/catalog/index.js';
import { startAgentApi, type AgentApi } from '../../../../agent/api/index.js';
import { Registrar } from '../../../../agent/registration/registrar.js';
import type { RegistrationPolicy } from '../../../../agent/registration/policy.js';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const TOKEN = 'unit-test-token-0123456789abcdef';
export const TOKEN_FILE = '/var/lib/meridian/agent/api-token';
export const NODE: NodeContext = { site: 'east', region: 'region-east', zone: 'east-a', platform: 'vm', node: 'east-1' };

/** An agent API in this process over a real registrar (not attached to NATS) and a view seeded with `others` (instances of other nodes). */
export interface ApiUnderTest {
  readonly api: AgentApi;
  readonly registrar: Registrar;
  readonly view: FederatedView;
  /** A request with the token unless `headers` says otherwise. */
  call(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/** Seeds `view` with one instance per entry, each on its own node of site east. */
function seed(view: FederatedView, others: readonly { service: string; instanceId: string; node: string; port: number }[]): void {
  const state = new SiteState(NODE.site);
  others.forEach((other, i) => {
    const definition = parseServiceDefinition({ service: other.service, instanceId: other.instanceId, ports: { http: other.port } }, 'seed');
    const instance = toInstance(definition, { ...NODE, node: other.node }, { leaseTtlMs: 3000 });
    state.instances.set(`svc.${other.service}.${other.instanceId}`, { instance, revision: i + 1, key: `svc.${other.service}.${other.instanceId}` });
  });
  state.lastHeardAt = Date.now();
  view.seed(state);
}

export async function startApiUnderTest(options: { policy?: Omit<RegistrationPolicy, 'catalogOwner'>; others?: { service: string; instanceId: string; node: string; port: number }[] } = {}): Promise<ApiUnderTest> {
  const view = new FederatedView({ sites: [NODE.site], staleAfterMs: 60_000 });
  seed(view, options.others ?? []);
  const registrar = new Registrar({
    node: NODE,
    heartbeatMs: 1000,
    policy: { ...options.policy, catalogOwner: (id) => view.query({ site: NODE.site }).find((e) => e.instance.instanceId === id)?.instance.node },
  });
  const api = await startAgentApi({
    host: '127.0.0.1',
    port: 0,
    registry: registrar,
    reader: view,
    node: NODE,
    connected: () => false,
    metrics: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '# HELP up 1\nup 1\n' }),
    access: { token: TOKEN, tokenFile: TOKEN_FILE },
  });
  return {
    api,
    registrar,
    view,
    call: (path, init = {}) =>
      fetch(`${api.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${TOKEN}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
        ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
        signal: AbortSignal.timeout(10_000),
      }),
    close: async () => {
      await registrar.stop({ deregister: true });
      await api.close();
      view.close();
    },
  };
}

/** Checks bodies against the served OpenAPI document: `(method, path, status, body)`, path as the document spells it. */
export type DocumentValidator = (method: string, path: string, status: number, body: unknown) => void;

export function documentValidator(document: { paths: Record<string, unknown> }): DocumentValidator {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: 'meridian-agent' });
  const compiled = new Map<string, ValidateFunction>();
  return (method, path, status, body) => {
    const escaped = path.replace(/~/g, '~0').replace(/\//g, '~1');
    const pointer = `/paths/${escaped}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
    const check = compiled.get(pointer) ?? ajv.compile({ $ref: `meridian-agent#${pointer}` });
    compiled.set(pointer, check);
    if (!check(body)) throw new Error(`${method} ${path} ${status} does not match the OpenAPI document: ${ajv.errorsText(check.errors)}\n${JSON.stringify(body)}`);
  };
}
