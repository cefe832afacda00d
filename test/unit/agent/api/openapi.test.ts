import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { documentValidator, startApiUnderTest, type ApiUnderTest, type DocumentValidator } from './support.js';

interface Operation {
  security?: unknown[];
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, unknown>;
}
interface Document {
  openapi: string;
  security: unknown[];
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
}

let under: ApiUnderTest;
let document: Document;
let validate: DocumentValidator;
let app: Server;
let appPort: number;

before(async () => {
  app = createServer((socket) => socket.end()).listen(0, '127.0.0.1');
  await new Promise((resolve) => app.once('listening', resolve));
  appPort = (app.address() as AddressInfo).port;
  under = await startApiUnderTest({ others: [{ service: 'ledger', instanceId: 'ledger-1', node: 'east-2', port: 7002 }] });
  const response = await fetch(`${under.api.url}/openapi.json`);
  assert.equal(response.status, 200);
  document = (await response.json()) as Document;
  validate = documentValidator(document);
});
after(async () => {
  await under.close();
  app.close();
});

const operation = (path: string, method: string): Operation => document.paths[path]?.[method] ?? assert.fail(`no ${method} ${path} in the document`);

describe('agent API OpenAPI document', () => {
  it('lists every route once, with the bearer scheme everywhere but /v1/ready and /openapi.json', () => {
    assert.equal(document.openapi, '3.1.0');
    assert.deepEqual(document.security, [{ bearer: [] }]);
    assert.deepEqual(document.components.securitySchemes.bearer, {
      type: 'http',
      scheme: 'bearer',
      description: "the token in the agent config's api.tokenFile (default <dataDir>/api-token, created 0600 on first start)",
    });
    const routes = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    assert.deepEqual(routes, [
      'DELETE /v1/services/{instanceId}',
      'GET /metrics',
      'GET /openapi.json',
      'GET /v1/agent',
      'GET /v1/instances',
      'GET /v1/instances/stream',
      'GET /v1/local',
      'GET /v1/ready',
      'GET /v1/services',
      'GET /v1/sites',
      'POST /v1/services',
      'PUT /v1/checks/{instanceId}/fail',
      'PUT /v1/checks/{instanceId}/pass',
    ]);
    assert.deepEqual(operation('/v1/ready', 'get').security, []);
    assert.deepEqual(operation('/openapi.json', 'get').security, []);
    assert.equal(operation('/v1/instances', 'get').security, undefined);
    assert.ok('401' in operation('/v1/local', 'get').responses);
  });

  it('documents parameters and the request body from the route schemas', () => {
    const query = operation('/v1/instances', 'get').parameters ?? [];
    assert.deepEqual(query.map((p) => [p.name, p.in, p.required]), [
      ['service', 'query', false],
      ['site', 'query', false],
      ['region', 'query', false],
      ['health', 'query', false],
      ['label', 'query', false],
      ['index', 'query', false],
      ['wait', 'query', false],
    ]);
    assert.deepEqual(operation('/v1/services/{instanceId}', 'delete').parameters?.map((p) => [p.name, p.in, p.required]), [['instanceId', 'path', true]]);
    const body = operation('/v1/services', 'post').requestBody?.content['application/json']?.schema;
    assert.deepEqual(Object.keys(body?.properties ?? {}).sort(), ['address', 'check', 'export', 'instanceId', 'labels', 'outbound', 'partition', 'ports', 'protocol', 'service', 'version', 'weight']);
    assert.deepEqual(Object.keys(operation('/v1/services', 'post').responses).sort(), ['201', '400', '401', '403', '409', '413']);
  });

  it("serves responses that match the document, in today's shape", async () => {
    const registered = await under.call('/v1/services', { method: 'POST', body: { service: 'payments', ports: { http: appPort }, labels: { tier: 'backend' } } });
    assert.equal(registered.status, 201);
    const instance = (await registered.json()) as Record<string, unknown>;
    validate('POST', '/v1/services', 201, instance);
    assert.deepEqual(Object.keys(instance).sort(), ['address', 'exported', 'health', 'instanceId', 'labels', 'leaseTtlMs', 'node', 'partition', 'platform', 'ports', 'protocol', 'region', 'registeredAt', 'service', 'site', 'updatedAt', 'version', 'weight', 'zone']);
    assert.equal(instance.health, 'passing');
    const reads: [string, string][] = [['/v1/agent', '/v1/agent'], ['/v1/sites', '/v1/sites'], ['/v1/services', '/v1/services'], ['/v1/instances?service=ledger', '/v1/instances'], ['/v1/local', '/v1/local']];
    for (const [url, path] of reads) {
      const response = await under.call(url);
      assert.equal(response.status, 200, url);
      validate('GET', path, 200, await response.json());
    }
    const rows = ((await (await under.call('/v1/instances?service=ledger')).json()) as { instances: Record<string, unknown>[] }).instances;
    assert.deepEqual(rows.map((r) => [r.instanceId, r.node, r.stale, r.usable, typeof r.ageMs]), [['ledger-1', 'east-2', false, true, 'number']]);
    const ready = await under.call('/v1/ready', { headers: { authorization: '' } });
    assert.equal(ready.status, 503);
    validate('GET', '/v1/ready', 503, await ready.json());
    const metrics = await under.call('/metrics');
    assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await metrics.text(), '# HELP up 1\nup 1\n');
  });

  it('answers errors as { code, message } matching the document', async () => {
    const cases: [string, string, { method?: string; body?: unknown; headers?: Record<string, string> }, number][] = [
      ['/v1/instances?health=fine', '/v1/instances', {}, 400],
      ['/v1/local', '/v1/local', { headers: { authorization: 'Bearer wrong-token-wrong-token' } }, 401],
      ['/v1/services', '/v1/services', { method: 'POST', body: { service: 'x', ports: { http: 'eighty' } } }, 400],
      ['/v1/services/nope', '/v1/services/{instanceId}', { method: 'DELETE' }, 404],
    ];
    for (const [url, path, init, status] of cases) {
      const response = await under.call(url, init);
      assert.equal(response.status, status, url);
      validate(init.method ?? 'GET', path, status, await response.json());
    }
    const unknown = await under.call('/v2/anything');
    assert.deepEqual([unknown.status, await unknown.json()], [404, { code: 'MERIDIAN_ERR_NOT_FOUND', message: 'no route GET /v2/anything; the routes are listed in /openapi.json' }]);
  });
});
