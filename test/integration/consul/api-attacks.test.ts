/**
 * The Consul-compatible listener attacked as any local process would: each attack is kept as a
 * test, and each refusal is checked for its exact answer and for nothing having changed.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { before, describe, it } from 'node:test';
import { startConsulApi } from '../../../agent/consul/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { EAST, TOKEN, TOKEN_FILE, startConsulFixture, type ConsulFixture } from './api-support.js';

const MAX_BLOCKING = 4;
let fx: ConsulFixture;

before(async () => {
  fx = await startConsulFixture({ maxBlockingQueries: MAX_BLOCKING });
  await fx.putWest('payments', 'west-1', { instanceId: 'payments-w1', ports: { http: 9101 } });
  await eventually(() => assert.equal(fx.view.query({ service: 'payments' }).length, 1));
});

async function expectText(response: Response, status: number, text: string | RegExp): Promise<void> {
  const body = await response.text();
  assert.equal(response.status, status, body);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  if (typeof text === 'string') assert.equal(body, text);
  else assert.match(body, text);
}

/** Sends raw bytes and returns the first response's status line (or '' when the server just closed). */
function rawRequest(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(payload));
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
  });
}

function registered(): string[] {
  return fx.registrar.list().map((r) => r.instance.instanceId).sort();
}

const register = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fx.call('/v1/agent/service/register', { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body), headers });

describe('Consul-compatible API: tokens', () => {
  it('refuses a read or write without the token (403, naming the token file) and before reading any body', async () => {
    const refusal = `Permission denied: the Consul-compatible API needs the agent API token as X-Consul-Token (or Authorization: Bearer); it is in ${TOKEN_FILE}`;
    await expectText(await fetch(`${fx.api.url}/v1/catalog/services`), 403, refusal);
    await expectText(await fx.call('/v1/catalog/services', { headers: { 'x-consul-token': 'wrong-token-wrong-token' } }), 403, refusal);
    // A megabyte without a token is refused for the token (403), not parsed (which would be 413).
    const big = await fetch(`${fx.api.url}/v1/agent/service/register`, { method: 'PUT', body: 'x'.repeat(1 << 20) });
    await expectText(big, 403, refusal);
    assert.deepEqual(registered(), []);
  });

  it('accepts the token as X-Consul-Token, as a bearer token and as ?token=', async () => {
    assert.equal((await fx.call('/v1/catalog/services')).status, 200);
    assert.equal((await fetch(`${fx.api.url}/v1/catalog/services`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.equal((await fetch(`${fx.api.url}/v1/catalog/services?token=${TOKEN}`)).status, 200);
  });

  it('with anonymousReads, opens reads only: a write still needs the token', async () => {
    const open = await startConsulApi({ host: '127.0.0.1', port: 0, registry: fx.registrar, reader: fx.view, node: EAST, connected: () => true, access: { token: TOKEN, tokenFile: TOKEN_FILE, anonymousReads: true } });
    fileScope.after(() => open.close());
    assert.deepEqual(await (await fetch(`${open.url}/v1/catalog/services?dc=west`)).json(), { payments: [] });
    const write = await fetch(`${open.url}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'sneaky', Port: 80 }) });
    assert.equal(write.status, 403);
    assert.deepEqual(registered(), []);
  });
});

describe('Consul-compatible API: bad bodies change nothing', () => {
  it('refuses a body over 64 KiB with 413', async () => {
    const response = await register({ Name: 'big', Port: 80, Meta: { pad: 'x'.repeat(70_000) } });
    assert.equal(response.status, 413);
    assert.deepEqual(registered(), []);
  });

  it('refuses bad JSON, a non-object, and a body without Name, each naming the problem', async () => {
    await expectText(await register('{"Name": "web", '), 400, /^Request decode failed: the body is not JSON \(/);
    await expectText(await register('[1,2]'), 400, 'body: a JSON object with at least Name is required');
    await expectText(await register('null'), 400, 'body: a JSON object with at least Name is required');
    await expectText(await register({ Port: 80 }), 400, /^Name: /);
    await expectText(await register({ Name: 'web', Port: 80, Bogus: 1 }), 400, /^Bogus: /);
    assert.deepEqual(registered(), []);
  });

  it('refuses what Meridian cannot honour by its Consul field name', async () => {
    await expectText(await register({ Name: 'web', Port: 80, Check: { Args: ['/bin/sh', '-c', 'true'], Interval: '10s' } }), 400, 'Check.Args: script checks are not supported (TTL, HTTP, TCP and GRPC are)');
    await expectText(await register({ Name: 'web', Port: 80, Connect: { Native: true } }), 400, 'Connect: Consul Connect is not supported: Meridian agents proxy every service');
    await expectText(await register({ Name: 'web', Port: 80, Check: { HTTP: 'http://169.254.169.254/latest/meta-data', Interval: '10s' } }), 400, 'Check.HTTP: checks probe the service\'s own Address (127.0.0.1), not 169.254.169.254');
    await expectText(await register({ Name: 'web', Port: 80, Check: { TTL: '10s', HTTP: 'http://127.0.0.1/' } }), 400, 'Check: exactly one of TTL, HTTP, TCP or GRPC is required (got TTL, HTTP)');
    await expectText(await register({ Name: 'web', Port: 80, Check: { TTL: 'forever' } }), 400, 'Check.TTL: "forever" is not a duration such as 10s, 1m30s or 250ms');
    await expectText(await register({ Name: 'web', Port: 80, Checks: [{ TTL: '1s' }, { TTL: '2s' }] }), 400, /^Checks: /);
    await expectText(await register({ Name: 'Web_Service', Port: 80 }), 400, 'Name: "Web_Service" must be a lower-case DNS label (a Meridian service name)');
    await expectText(await register({ Name: 'web', ID: '../../etc/passwd', Port: 80 }), 400, /^ID: "..\/..\/etc\/passwd" must be letters/);
    await expectText(await register({ Name: 'web' }), 400, 'Port: Meridian needs the service port (1-65535)');
    await expectText(await register({ Name: 'web', Port: 80, Tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }), 400, /^Tags: /);
    assert.deepEqual(registered(), []);
  });

  it('cannot deregister or fail what a definitions file registered (409), nor touch an unknown ID (404)', async () => {
    await fx.registrar.register({ service: 'filed', instanceId: 'filed-1', ports: { http: 9300 }, check: { type: 'ttl', ttl: '1m' } }, { kind: 'file', path: '/etc/meridian/services/filed.yaml' });
    await expectText(await fx.call('/v1/agent/service/deregister/filed-1', { method: 'PUT' }), 409, /^instance filed-1 is defined in \/etc\/meridian\/services\/filed.yaml/);
    await expectText(await fx.call('/v1/agent/service/deregister/nope', { method: 'PUT' }), 404, 'Unknown service ID "nope": it is not registered on this agent');
    await expectText(await fx.call('/v1/agent/check/pass/service:nope', { method: 'PUT' }), 404, 'Unknown check ID "service:nope": no service nope is registered on this agent');
    assert.deepEqual(registered(), ['filed-1']);
    await fx.registrar.deregister('filed-1');
  });

  it('refuses to pass a check that is not a TTL check', async () => {
    assert.equal((await register({ Name: 'tcp-svc', ID: 'tcp-1', Port: 9301, Check: { TCP: '127.0.0.1:9301', Interval: '10s' } })).status, 200);
    await expectText(await fx.call('/v1/agent/check/pass/service:tcp-1', { method: 'PUT' }), 400, 'passTtl: the check is of type tcp; only a check of type ttl can be passed');
    assert.equal((await fx.call('/v1/agent/service/deregister/tcp-1', { method: 'PUT' })).status, 200);
  });
});

describe('Consul-compatible API: methods, paths and headers', () => {
  it('answers a wrong method on a served path with 405 and an unserved endpoint with 501, never an empty list', async () => {
    await expectText(await fx.call('/v1/catalog/services', { method: 'DELETE' }), 405, 'method DELETE not allowed on /v1/catalog/services (allowed: GET)');
    await expectText(await fx.call('/v1/agent/service/register'), 405, 'method GET not allowed on /v1/agent/service/register (allowed: PUT)');
    for (const [method, path] of [['GET', '/v1/kv/config'], ['PUT', '/v1/agent/check/update/service:x'], ['GET', '/v1/health/state/critical'], ['GET', '/v1/acl/tokens']] as const) {
      const response = await fx.call(path, { method, ...(method === 'PUT' ? { body: '{}' } : {}) });
      assert.equal(response.headers.get('x-meridian-error-code'), 'MERIDIAN_ERR_CONSUL_UNSUPPORTED');
      await expectText(response, 501, `${method} ${path} is not served by Meridian's Consul-compatible API (see the README: catalog, health, agent services and checks, status/leader)`);
    }
  });

  it('refuses path traversal and odd names in :name before any lookup', async () => {
    await expectText(await fx.call('/v1/health/service/..%2F..%2Fetc%2Fpasswd'), 400, 'service: "../../etc/passwd" is not a valid name');
    await expectText(await fx.call('/v1/catalog/service/%00'), 400, 'service: "\\u0000" is not a valid name');
    await expectText(await fx.call(`/v1/catalog/service/${'a'.repeat(300)}`), 414, /^FST_ERR_MAX_PARAM_LENGTH: '\/v1\/catalog\/service\/a+/);
    const status = await rawRequest(Number(new URL(fx.api.url).port), `GET /v1/catalog/../agent/self HTTP/1.1\r\nHost: x\r\nX-Consul-Token: ${TOKEN}\r\n\r\n`);
    assert.equal(status, 'HTTP/1.1 501 Not Implemented');
  });

  it('answers 431 to oversized headers and keeps serving', async () => {
    const port = Number(new URL(fx.api.url).port);
    const status = await rawRequest(port, `GET /v1/catalog/services HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.equal(status, 'HTTP/1.1 431 Request Header Fields Too Large');
    assert.equal((await fx.call('/v1/catalog/datacenters')).status, 200);
  });

  it('refuses parameters it cannot honour instead of ignoring them', async () => {
    await expectText(await fx.call('/v1/health/service/payments?dc=mars'), 404, 'No path to datacenter: dc "mars" is not a site this agent follows (east, west)');
    await expectText(await fx.call('/v1/health/service/payments?node-meta=rack:1'), 400, 'node-meta: node-meta is not supported; use filter on Node.Meta');
    await expectText(await fx.call('/v1/health/service/payments?dc=west&dc=east'), 400, 'dc: given more than once');
    await expectText(await fx.call('/v1/health/service/payments?ns=team-a'), 400, 'ns: only "default" exists in Meridian');
    await expectText(await fx.call('/v1/health/service/payments?index=abc'), 400, 'index: "abc" must be a non-negative integer');
    await expectText(await fx.call('/v1/health/service/payments?index=99999999999999999999'), 400, 'index: "99999999999999999999" must be a non-negative integer');
    await expectText(await fx.call('/v1/health/service/payments?index=1&wait=10'), 400, 'wait: "10" is not a duration such as 10s, 1m30s or 250ms');
  });

  it('bounds and sandboxes filter expressions', async () => {
    await expectText(await fx.call(`/v1/health/service/payments?filter=${encodeURIComponent(`Service.ID == ${'x'.repeat(1100)}`)}`), 400, /^filter: longer than 1024 characters/);
    await expectText(await fx.call(`/v1/health/service/payments?filter=${encodeURIComponent('(Service.ID == a)')}`), 400, /^filter: "\(" is not supported/);
    await expectText(await fx.call(`/v1/health/service/payments?filter=${encodeURIComponent('Bogus.Field == a')}`), 400, /^filter: selector Bogus.Field: no field Bogus here \(fields: Node, Service, Checks\)/);
    // Prototype properties are never reached: __proto__ and constructor are not own fields of a row.
    const proto = await fx.call(`/v1/health/service/payments?dc=west&filter=${encodeURIComponent('Service.__proto__ is not empty')}`);
    assert.deepEqual(await proto.json(), []);
    const ctor = await fx.call(`/v1/health/service/payments?dc=west&filter=${encodeURIComponent('Service.constructor.name == Object')}`);
    assert.deepEqual(await ctor.json(), []);
  });
});

describe('Consul-compatible API: blocking queries', () => {
  it(`holds at most ${MAX_BLOCKING} blocking queries, refuses more with 429, and frees a slot when its client goes away`, async () => {
    const index = (await fx.call('/v1/health/service/payments?dc=west')).headers.get('x-consul-index') ?? '';
    const aborts = Array.from({ length: MAX_BLOCKING }, () => new AbortController());
    const held = aborts.map((abort) => fetch(`${fx.api.url}/v1/health/service/payments?dc=west&index=${index}&wait=30s`, { headers: { 'x-consul-token': TOKEN }, signal: abort.signal }).catch(() => undefined));
    await eventually(() => assert.equal(fx.api.blockingQueries(), MAX_BLOCKING));
    await expectText(await fx.call(`/v1/health/service/payments?dc=west&index=${index}&wait=30s`), 429, `too many blocking queries in flight (consulApi.maxBlockingQueries is ${MAX_BLOCKING}); retry later`);
    // Ordinary reads still answer while the slots are full.
    assert.equal((await fx.call('/v1/health/service/payments?dc=west')).status, 200);
    for (const abort of aborts) abort.abort();
    await Promise.all(held);
    await eventually(() => assert.equal(fx.api.blockingQueries(), 0));
  });

  it('returns after wait with the same index when nothing changed, and at once for an index from before a restart', async () => {
    const first = await fx.call('/v1/catalog/services?dc=west');
    const index = first.headers.get('x-consul-index') ?? '';
    assert.deepEqual([first.headers.get('x-consul-knownleader'), first.headers.get('x-consul-lastcontact')], ['true', first.headers.get('x-consul-lastcontact')]);
    assert.match(first.headers.get('x-consul-lastcontact') ?? '', /^\d+$/);
    const started = Date.now();
    const timedOut = await fx.call(`/v1/catalog/services?dc=west&index=${index}&wait=300ms`);
    assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
    assert.equal(timedOut.headers.get('x-consul-index'), index);
    const ahead = Date.now();
    const restarted = await fx.call(`/v1/catalog/services?dc=west&index=${Number(index) + 1000}&wait=30s`);
    assert.ok(Date.now() - ahead < 1000);
    assert.equal(restarted.headers.get('x-consul-index'), index);
  });
});
