/**
 * The agent API attacked as any local process would: every attack here once worked (a local
 * process could take any service identity through `POST /v1/services`) and is kept as a test.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { eventually, fileScope } from '../../support/harness.js';
import { freePort } from '../../support/servers/index.js';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.js';
import { startSecureFederation, type SecureFederation } from '../../support/catalog.js';
import { runCliSync, type CliResult } from '../../support/cli.js';

interface Row {
  service: string;
  instanceId: string;
  node: string;
  health: string;
  usable: boolean;
}
interface Local {
  instance: Row;
  source: { kind: string; path?: string };
  definition: { check?: unknown };
}

let fed: SecureFederation;
let first: AgentProcess;
let second: AgentProcess;

/** The exact request of the reported attack: ledger's identity on an outbound port of the attacker's choosing. */
const ledgerClaim = (outbound: number): string => JSON.stringify({ service: 'ledger', ports: { http: 7002 }, outbound: { http: outbound } });

function raw(agent: AgentProcess, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  return fetch(`${agent.url}${path}`, { method: init.method ?? 'GET', headers: { 'content-type': 'application/json', ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(10_000) });
}

async function local(agent: AgentProcess): Promise<Local[]> {
  return ((await agent.get('/v1/local')) as { registrations: Local[] }).registrations;
}

async function instances(agent: AgentProcess, service: string): Promise<Row[]> {
  return ((await agent.get(`/v1/instances?service=${service}`)) as { instances: Row[] }).instances;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(2000, () => done(false));
  });
}

async function tcpApp(): Promise<number> {
  const server: Server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fileScope.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  fed = await startSecureFederation(['east', 'west']);
  [first, second] = await Promise.all([startAgentProcess(fed, 'east', 'east-1', { mesh: true }), startAgentProcess(fed, 'east', 'east-2')]);
});

describe('agent API: authentication', () => {
  it('refuses a registration without a token, with a wrong one, or with the token in the query string', async () => {
    const outbound = await freePort();
    const token = readFileSync(first.tokenFile, 'utf8').trim();
    const attempts: [string, Record<string, string>][] = [
      ['/v1/services', {}],
      ['/v1/services', { authorization: 'Bearer not-the-token-but-long-enough' }],
      ['/v1/services', { authorization: `Basic ${Buffer.from(`meridian:${token}`).toString('base64')}` }],
      [`/v1/services?token=${token}`, {}],
      [`/v1/services?access_token=${token}`, {}],
    ];
    for (const [path, headers] of attempts) {
      const response = await raw(first, path, { method: 'POST', headers, body: ledgerClaim(outbound) });
      assert.equal(response.status, 401, `${path} ${JSON.stringify(headers)}`);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="meridian-agent"');
      const body = (await response.json()) as { code: string; message: string };
      assert.equal(body.code, 'MERIDIAN_ERR_UNAUTHORIZED');
      assert.match(body.message, /Authorization: Bearer <token>.*api-token/);
    }
    for (const [method, path] of [['DELETE', '/v1/services/east-1-ledger-7002'], ['PUT', '/v1/checks/east-1-ledger-7002/pass']] as const) {
      assert.equal((await raw(first, path, { method })).status, 401, `${method} ${path}`);
    }
    assert.deepEqual((await local(first)).map((r) => r.instance.service), []);
    assert.equal(await listening(outbound), false, 'no outbound listener carries ledger identity');
  });

  it('serves the catalog only with the token; /v1/ready and /openapi.json stay open', async () => {
    for (const path of ['/v1/instances', '/v1/instances?service=x&index=0&wait=1s', '/v1/instances/stream', '/v1/services', '/v1/sites', '/v1/local', '/v1/agent', '/metrics', '/nowhere']) {
      assert.equal((await raw(first, path)).status, 401, path);
    }
    for (const path of ['/v1/instances', '/v1/services', '/v1/sites', '/v1/local', '/v1/agent', '/metrics']) {
      assert.equal((await first.request(path)).status, 200, path);
    }
    assert.equal((await raw(first, '/v1/ready')).status, 200);
    const openapi = await raw(first, '/openapi.json');
    assert.equal(openapi.status, 200);
    assert.equal(((await openapi.json()) as { openapi: string }).openapi, '3.1.0');
  });

  it('creates the token file 0600 on first start, and will not start with a token file others can read', async () => {
    assert.equal(statSync(first.tokenFile).mode & 0o777, 0o600);
    assert.ok(statSync(first.tokenFile).size >= 32);
    await assert.rejects(
      startAgentProcess(fed, 'east', 'east-9', {
        beforeStart: ({ dataDir }) => {
          mkdirSync(dataDir, { recursive: true });
          writeFileSync(join(dataDir, 'api-token'), 'a-token-that-everyone-can-read-0123456789\n');
          chmodSync(join(dataDir, 'api-token'), 0o644);
        },
      }),
      /exited with 1 before starting:[\s\S]*MERIDIAN_ERR_FILE_PERMISSIONS: [^\n]*api-token[^\n]*mode 0644/,
    );
  });

  it('meridian services reads the token file, and says which file when it cannot', () => {
    const run = (...args: string[]): CliResult => runCliSync(['services', '--agent', first.url, ...args], { timeoutMs: 15_000 });
    const ok = run('--token-file', first.tokenFile);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /instance\(s\)/);
    const missing = run('--token-file', join(first.dir, 'no-such-token'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^meridian: MERIDIAN_ERR_FILE_IO: cannot read the agent API token file .*no-such-token/);
    const wrongFile = join(first.dir, 'wrong-token');
    writeFileSync(wrongFile, 'wrong-token-wrong-token-wrong\n', { mode: 0o600 });
    const wrong = run('--token-file', wrongFile);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^meridian: MERIDIAN_ERR_UNAUTHORIZED: /);
  });
});

describe('agent API: what an authorised client may register', () => {
  it('an instance without a check gets a TCP check on its first port: nothing listening is never passing', async () => {
    const closed = await freePort();
    const open = await tcpApp();
    const ghost = await first.request('/v1/services', { method: 'POST', body: { service: 'ghost', ports: { http: closed } } });
    assert.equal(ghost.status, 201);
    const alive = await first.request('/v1/services', { method: 'POST', body: { service: 'alive', ports: { http: open } } });
    assert.equal(alive.status, 201);
    await eventually(async () => {
      assert.deepEqual((await instances(first, 'ghost')).map((r) => [r.health, r.usable]), [['critical', false]]);
      assert.deepEqual((await instances(first, 'alive')).map((r) => [r.health, r.usable]), [['passing', true]]);
    }, { timeoutMs: 5000 });
    const ghostLocal = (await local(first)).find((r) => r.instance.service === 'ghost');
    assert.deepEqual(ghostLocal?.definition.check, { type: 'tcp', port: 'http' });
  });

  it('limits bodies: 1 MB and 10 000 labels are refused before parsing, 1000 labels by the schema; nothing registers', async () => {
    const huge = await first.request('/v1/services', { method: 'POST', body: { service: 'huge', ports: { http: 7003 }, labels: { blob: 'x'.repeat(1 << 20) } } });
    assert.equal(huge.status, 413);
    assert.equal(((await huge.json()) as { code: string }).code, 'MERIDIAN_ERR_BAD_ARGUMENT');
    const labels = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, '']));
    const many = await first.request('/v1/services', { method: 'POST', body: { service: 'many', ports: { http: 7004 }, labels: labels(10_000) } });
    assert.equal(many.status, 413);
    const some = await first.request('/v1/services', { method: 'POST', body: { service: 'some', ports: { http: 7005 }, labels: labels(1000) } });
    assert.equal(some.status, 400);
    const body = (await some.json()) as { code: string; message: string };
    assert.equal(body.code, 'MERIDIAN_ERR_CONFIG_INVALID');
    assert.match(body.message, /^agent API: invalid configuration: \/labels: /);
    const services = (await local(first)).map((r) => r.instance.service);
    for (const service of ['huge', 'many', 'some']) assert.ok(!services.includes(service), service);
  });

  it("refuses another node's instanceId, and leaves that node's instance as it was", async () => {
    const taken = await first.request('/v1/services', { method: 'POST', body: { service: 'billing', instanceId: 'billing-main', ports: { http: await tcpApp() } } });
    assert.equal(taken.status, 201);
    await eventually(async () => assert.deepEqual((await instances(second, 'billing')).map((r) => r.node), ['east-1']), { timeoutMs: 8000 });
    const hijack = await second.request('/v1/services', { method: 'POST', body: { service: 'billing', instanceId: 'billing-main', ports: { http: 7010 } } });
    assert.equal(hijack.status, 409);
    assert.deepEqual(await hijack.json(), {
      code: 'MERIDIAN_ERR_CONFLICT',
      message: "instanceId billing-main: site east's catalog holds it for node east-1; an agent registers only its own node's instances",
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.deepEqual((await instances(first, 'billing')).map((r) => [r.node, r.health]), [['east-1', 'passing']]);
    assert.deepEqual((await local(second)).map((r) => r.instance.instanceId), []);
  });

  it('refuses to delete an instance that a definitions file defines (nothing would bring it back)', async () => {
    writeFileSync(join(first.definitionsDir, 'audit.json'), JSON.stringify({ service: 'audit', instanceId: 'audit-1', ports: { http: await tcpApp() } }));
    await eventually(async () => assert.ok((await local(first)).some((r) => r.instance.instanceId === 'audit-1')), { timeoutMs: 5000 });
    const deleted = await first.request('/v1/services/audit-1', { method: 'DELETE' });
    assert.equal(deleted.status, 409);
    assert.deepEqual(await deleted.json(), {
      code: 'MERIDIAN_ERR_CONFLICT',
      message: `instance audit-1 is defined in ${join(first.definitionsDir, 'audit.json')}: remove it from that file instead (the API deletes only what the API registered)`,
    });
    const replaced = await first.request('/v1/services', { method: 'POST', body: { service: 'audit', instanceId: 'audit-1', ports: { http: 7011 } } });
    assert.equal(replaced.status, 409);
    const row = (await local(first)).find((r) => r.instance.instanceId === 'audit-1');
    assert.deepEqual(row?.source, { kind: 'file', path: join(first.definitionsDir, 'audit.json') });
    assert.equal((await instances(second, 'audit')).length, 1);
  });

  it('lets an operator restrict which services a node registers (allowedServices), from the API and from files', async () => {
    const guarded = await startAgentProcess(fed, 'east', 'east-3', {
      config: { allowedServices: ['payments', 'web-*'] },
      beforeStart: ({ dir }) => writeFileSync(join(dir, 'services.d', 'ledger.json'), JSON.stringify({ service: 'ledger', ports: { http: 7020 } })),
    });
    const outbound = await freePort();
    const refused = await raw(guarded, '/v1/services', { method: 'POST', headers: { authorization: `Bearer ${readFileSync(guarded.tokenFile, 'utf8').trim()}` }, body: ledgerClaim(outbound) });
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), {
      code: 'MERIDIAN_ERR_FORBIDDEN',
      message: 'service "ledger" may not be registered on node east-3: the agent config\'s allowedServices is payments, web-*',
    });
    for (const service of ['payments', 'web-frontend']) {
      assert.equal((await guarded.request('/v1/services', { method: 'POST', body: { service, ports: { http: 7021 } } })).status, 201, service);
    }
    await eventually(() => assert.match(guarded.output(), /service definition not registered.*ledger\.json.*allowedServices/), { timeoutMs: 5000 });
    assert.deepEqual((await local(guarded)).map((r) => r.instance.service).sort(), ['payments', 'web-frontend']);
    assert.equal((await instances(second, 'ledger')).length, 0);
  });
});
