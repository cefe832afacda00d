/** The agent API's authentication and limits, attacked in process (the same attacks run against real agents in test/integration/agent). */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { TOKEN, TOKEN_FILE, startApiUnderTest, type ApiUnderTest } from './support.js';

let under: ApiUnderTest;

before(async () => {
  under = await startApiUnderTest({ policy: { allowedServices: ['payments', 'web-*'] }, others: [{ service: 'payments', instanceId: 'payments-main', node: 'east-2', port: 7001 }] });
});
after(() => under.close());

const REFUSAL = {
  code: 'MERIDIAN_ERR_UNAUTHORIZED',
  message: `the agent API needs "Authorization: Bearer <token>"; the token is in ${TOKEN_FILE} (the agent config's api.tokenFile)`,
};
const claim = { service: 'payments', ports: { http: 7003 }, outbound: { http: 15099 } };

/** A request whose body is written in pieces and never finished, like a slow attacker. */
function unfinishedPost(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/services`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024), ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.write('{"service":"payments","labels":{');
  });
}

describe('agent API authentication', () => {
  it('refuses every route but /v1/ready and /openapi.json without the right bearer token', async () => {
    const wrong = [{}, { authorization: 'Bearer' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: `Token ${TOKEN}` }, { authorization: TOKEN }];
    const routes = [
      ['GET', '/v1/agent'],
      ['GET', '/v1/sites'],
      ['GET', '/v1/services'],
      ['GET', '/v1/instances'],
      ['GET', '/v1/instances/stream'],
      ['GET', '/v1/local'],
      ['GET', '/metrics'],
      ['POST', '/v1/services'],
      ['DELETE', '/v1/services/x'],
      ['PUT', '/v1/checks/x/pass'],
      ['PUT', '/v1/checks/x/fail'],
      ['GET', '/v2/unknown'],
    ] as const;
    for (const headers of wrong) {
      for (const [method, path] of routes) {
        const response = await fetch(`${under.api.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(method === 'POST' ? { body: JSON.stringify(claim) } : {}) });
        assert.equal(response.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="meridian-agent"');
        assert.deepEqual(await response.json(), REFUSAL);
      }
    }
    assert.equal((await fetch(`${under.api.url}/v1/ready`)).status, 503);
    assert.equal((await fetch(`${under.api.url}/openapi.json`)).status, 200);
    assert.deepEqual(under.registrar.list(), []);
  });

  it('ignores a token in the query string or in a cookie', async () => {
    for (const path of [`/v1/local?token=${TOKEN}`, `/v1/local?access_token=${TOKEN}`, `/v1/local?authorization=Bearer%20${TOKEN}`]) {
      assert.equal((await fetch(`${under.api.url}${path}`)).status, 401, path);
    }
    assert.equal((await fetch(`${under.api.url}/v1/local`, { headers: { cookie: `token=${TOKEN}` } })).status, 401);
  });

  it('accepts the token with the scheme in any case, as RFC 7235 allows', async () => {
    assert.equal((await fetch(`${under.api.url}/v1/local`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200);
  });

  it('refuses an unauthenticated body before reading it; an authenticated one past 64 KiB with 413', async () => {
    assert.equal(await unfinishedPost(under.api.url, {}), 401);
    assert.equal(await unfinishedPost(under.api.url, { authorization: `Bearer ${TOKEN}` }), 413);
    assert.deepEqual(under.registrar.list(), []);
  });
});

describe('agent API registrations', () => {
  it('bounds a definition: 64 labels at most, named in the error', async () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v']));
    const response = await under.call('/v1/services', { method: 'POST', body: { service: 'payments', ports: { http: 7003 }, labels } });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      code: 'MERIDIAN_ERR_CONFIG_INVALID',
      message: 'agent API: invalid configuration: /labels: Expected object to have no more than 64 properties',
      details: { source: 'agent API', violations: [{ path: '/labels', message: 'Expected object to have no more than 64 properties' }] },
    });
  });

  it("refuses services outside allowedServices with 403, and another node's instanceId with 409", async () => {
    const ledger = await under.call('/v1/services', { method: 'POST', body: { ...claim, service: 'ledger' } });
    assert.deepEqual([ledger.status, await ledger.json()], [
      403,
      { code: 'MERIDIAN_ERR_FORBIDDEN', message: 'service "ledger" may not be registered on node east-1: the agent config\'s allowedServices is payments, web-*' },
    ]);
    const web = await under.call('/v1/services', { method: 'POST', body: { service: 'web', ports: { http: 7004 } } });
    assert.equal(web.status, 403, "'web-*' does not match 'web'");
    const taken = await under.call('/v1/services', { method: 'POST', body: { service: 'payments', instanceId: 'payments-main', ports: { http: 7003 } } });
    assert.deepEqual([taken.status, await taken.json()], [
      409,
      { code: 'MERIDIAN_ERR_CONFLICT', message: "instanceId payments-main: site east's catalog holds it for node east-2; an agent registers only its own node's instances" },
    ]);
    assert.deepEqual(under.registrar.list(), []);
    const own = await under.call('/v1/services', { method: 'POST', body: { service: 'web-frontend', ports: { http: 7005 } } });
    assert.equal(own.status, 201);
    assert.deepEqual(under.registrar.list().map((r) => r.instance.instanceId), ['east-1-web-frontend-7005']);
  });

  it('deletes through the API only what the API registered', async () => {
    await under.registrar.register({ service: 'payments', instanceId: 'from-file', ports: { http: 7006 } }, { kind: 'file', path: '/etc/meridian/services.d/payments.yaml' });
    const refused = await under.call('/v1/services/from-file', { method: 'DELETE' });
    assert.deepEqual([refused.status, await refused.json()], [
      409,
      {
        code: 'MERIDIAN_ERR_CONFLICT',
        message: 'instance from-file is defined in /etc/meridian/services.d/payments.yaml: remove it from that file instead (the API deletes only what the API registered)',
      },
    ]);
    assert.ok(under.registrar.list().some((r) => r.instance.instanceId === 'from-file'));
    assert.equal((await under.call('/v1/services/east-1-web-frontend-7005', { method: 'DELETE' })).status, 204);
    assert.equal((await under.call('/v1/services/east-1-web-frontend-7005', { method: 'DELETE' })).status, 404);
  });
});
