/**
 * Issue #12 acceptance, authorization through a real 3-site mesh (NATS supercluster, a control
 * service and a gateway per site, four agents with their data planes): a policy set applied with
 * `meridian policy apply` decides at the destination agent's inbound, for callers in the same
 * site and in other sites (through both gateways). The caller apps call their agent's outbound
 * listener as any app does; what reaches them (status, the 403 body with its Meridian code, a TCP
 * connection closed) and what reaches the destination apps is asserted.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import type { RunningAgent } from '../../../agent/index.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { bodyJson, h2, h2c } from '../../support/clients.js';
import { eventually, fileScope, useTempDir } from '../../support/harness.js';
import { meshCaller, startFederationMesh, startTcpEcho, type FederationMesh, type MeshCaller } from '../../support/mesh/index.js';
import { freePort } from '../../support/servers/index.js';
import { codeOf, everywhere, meridianAt, printedVersion, rawRequest, writeSet, type RawReply } from './mesh-support.js';

const TD = 'spiffe://acme.internal';
const SHOP = `${TD}/site/east/svc/shop`;
const WEB = `${TD}/site/north/svc/web`;

/**
 * Default deny. ledger (west): shop of any site (a `*` segment), web of north on /public only;
 * nobody on /admin, DELETE, or with `x-debug: on`. orders (west): every workload of site east
 * (site-scoped prefix). stock (north): everyone but shop (deny wins). cart (east): shop, same
 * site. notes (east) and vault (north, TCP): no rule. cache (north, TCP): shop.
 */
const POLICY = `kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: deny}
---
kind: Authorization
metadata: {name: ledger-callers}
spec:
  action: allow
  service: ledger
  rules:
    - from: ['${TD}/site/*/svc/shop']
    - from: ['${WEB}']
      to: [{paths: [{prefix: /public}]}]
---
kind: Authorization
metadata: {name: ledger-guard}
spec:
  action: deny
  service: ledger
  rules:
    - from: ['${TD}/**']
      to: [{paths: [{prefix: /admin}]}]
    - from: ['${TD}/**']
      to: [{methods: [DELETE]}]
    - from: ['${TD}/**']
      to: [{headers: [{name: x-debug, exact: 'on'}]}]
---
kind: Authorization
metadata: {name: orders-east}
spec: {action: allow, service: orders, rules: [{from: ['${TD}/site/east/**']}]}
---
kind: Authorization
metadata: {name: stock-all}
spec: {action: allow, service: stock, rules: [{from: ['${TD}/**']}]}
---
kind: Authorization
metadata: {name: stock-no-shop}
spec: {action: deny, service: stock, rules: [{from: ['${SHOP}']}]}
---
kind: Authorization
metadata: {name: cart-shop}
spec: {action: allow, service: cart, rules: [{from: ['${SHOP}']}]}
---
kind: Authorization
metadata: {name: cache-shop}
spec: {action: allow, service: cache, rules: [{from: ['${SHOP}']}]}
`;

let mesh: FederationMesh;
const agents = new Map<string, RunningAgent>();
const apps = new Map<string, TestApp>();
let version: number;
/** The outbound HTTP listeners of shop (east-1) and web (north-1), and shop's TCP upstream ports. */
const ports = { shop: 0, web: 0, cache: 0, vault: 0 };
let shop: MeshCaller;

const at = (node: string): RunningAgent => agents.get(node) ?? assert.fail(node);
const app = (name: string): TestApp => apps.get(name) ?? assert.fail(name);

async function httpApp(node: string, service: string, exported: boolean): Promise<void> {
  const started = await startHttpApp(service, 'http');
  fileScope.after(() => started.kill());
  apps.set(service, started);
  await at(node).registrar.register({ service, ports: { http: started.port }, export: exported }, { kind: 'api' });
}

async function tcpApp(node: string, service: string): Promise<void> {
  const echo = await startTcpEcho();
  fileScope.after(() => echo.close());
  await at(node).registrar.register({ service, ports: { tcp: echo.port }, protocol: 'tcp', export: true }, { kind: 'api' });
}

/** One request from a caller app (its agent's outbound listener on `port`) to `host`. */
async function get(port: number, host: string, path = '/', method = 'GET'): Promise<RawReply> {
  return rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`);
}

/** A TCP connection through shop's upstream listener on `port`: 'echoed' when `ping` came back, else how it closed (or 'open' after 3 s). */
async function tcpExchange(port: number): Promise<string> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let got = '';
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('open'), 3000);
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got === 'ping') {
        clearTimeout(timer);
        resolve('echoed');
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(`closed after ${JSON.stringify(got)}`);
    });
    socket.write('ping');
  });
  socket.destroy();
  return outcome;
}

describe('authorization through a real 3-site mesh', () => {
  before(async () => {
    mesh = await startFederationMesh(['east', 'west', 'north']);
    for (const [site, node] of [['east', 'east-1'], ['east', 'east-2'], ['west', 'west-1'], ['north', 'north-1']] as const) agents.set(node, await mesh.agent(site, node));
    await httpApp('west-1', 'ledger', true);
    await httpApp('west-1', 'orders', true);
    await httpApp('north-1', 'stock', true);
    await httpApp('east-2', 'cart', false);
    await httpApp('east-2', 'notes', false);
    await tcpApp('north-1', 'cache');
    await tcpApp('north-1', 'vault');
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
    await at('east-1').registrar.register(
      { service: 'shop', ports: { http: 1 }, outbound: { http: ports.shop, upstreams: [{ service: 'cache', port: ports.cache }, { service: 'vault', port: ports.vault }] } },
      { kind: 'api' },
    );
    await at('north-1').registrar.register({ service: 'web', ports: { http: 1 }, outbound: { http: ports.web } }, { kind: 'api' });
    shop = meshCaller(() => ports.shop);
    fileScope.after(() => Promise.resolve(shop.close()));
    // Before any policy set (allow all): every route answers, so each refusal below is the policy's.
    for (const host of ['ledger', 'orders', 'stock', 'cart', 'notes']) await eventually(async () => assert.equal((await shop.call(`${host}.mesh`)).status, 200), { timeoutMs: 30_000 });
    for (const host of ['ledger', 'orders', 'stock']) await eventually(async () => assert.equal((await get(ports.web, `${host}.mesh`)).status, 200), { timeoutMs: 30_000 });
    for (const port of [ports.cache, ports.vault]) await eventually(async () => assert.equal(await tcpExchange(port), 'echoed'), { timeoutMs: 30_000 });
    const applied = await meridianAt(mesh, 'east', 'policy', 'apply', '-f', writeSet(useTempDir('meridian-mesh-authz-'), 'v1', { 'shop.yaml': POLICY }));
    assert.equal(applied.code, 0, applied.stderr);
    version = printedVersion(applied.stdout);
    await everywhere(mesh, agents, version);
  });

  it('allow, deny, default deny, site-scoped and prefix rules, same site and across gateways', async () => {
    const cases: [caller: 'shop' | 'web', host: string, path: string, status: number, rule: string][] = [
      ['shop', 'ledger', '/items', 200, 'ledger-callers/rules/0: a `*` segment, east → west'],
      ['shop', 'ledger', '/admin/users', 403, 'ledger-guard/rules/0'],
      ['web', 'ledger', '/public/report', 200, 'ledger-callers/rules/1: a path prefix, north → west'],
      ['web', 'ledger', '/publicity', 403, 'default'],
      ['web', 'ledger', '/items', 403, 'default'],
      ['shop', 'orders', '/', 200, 'orders-east/rules/0: site-scoped'],
      ['web', 'orders', '/', 403, 'default'],
      ['shop', 'stock', '/', 403, 'stock-no-shop/rules/0'],
      ['web', 'stock', '/', 200, 'stock-all/rules/0: same site'],
      ['shop', 'cart', '/', 200, 'cart-shop/rules/0: same site'],
      ['shop', 'notes', '/', 403, 'default'],
    ];
    const hits = new Map([...apps].map(([name, a]) => [name, a.hits]));
    let allowed = 0;
    for (const [caller, host, path, status, rule] of cases) {
      const reply = await get(ports[caller], `${host}.mesh`, path);
      const what = `${caller} → ${host}${path}`;
      assert.equal(reply.status, status, `${what}: ${reply.body}`);
      if (status === 200) {
        allowed += 1;
        assert.equal((JSON.parse(reply.body) as Seen).url, path, what);
        continue;
      }
      assert.equal(codeOf(reply.body), 'MERIDIAN_ERR_POLICY_DENIED', what);
      assert.match((JSON.parse(reply.body) as { message: string }).message, new RegExp(`\\(rule ${rule}, policy version ${version}\\)$`), what);
    }
    // Only the allowed calls reached an app.
    const reached = [...apps].reduce((sum, [name, a]) => sum + a.hits - (hits.get(name) ?? 0), 0);
    assert.equal(reached, allowed);
  });

  it('the 403 reaching the calling app carries MERIDIAN_ERR_POLICY_DENIED with caller, request, reason, rule and version', async () => {
    const reply = await get(ports.web, 'ledger.mesh', '/items');
    assert.deepEqual(JSON.parse(reply.body), {
      code: 'MERIDIAN_ERR_POLICY_DENIED',
      message: `${WEB} may not GET /items on service "ledger": the service has allow rules and none allows this caller (rule default, policy version ${version})`,
    });
    const notes = await get(ports.shop, 'notes.mesh', '/x');
    assert.deepEqual(JSON.parse(notes.body), {
      code: 'MERIDIAN_ERR_POLICY_DENIED',
      message: `${SHOP} may not GET /x on service "notes": no rule matches; the federation default is deny (rule default, policy version ${version})`,
    });
  });

  it('TCP across the gateways: an allowed service pipes, a denied one closes the connection with nothing sent', async () => {
    assert.equal(await tcpExchange(ports.cache), 'echoed');
    assert.equal(await tcpExchange(ports.vault), 'closed after ""');
  });

  it('defeats each normalisation bypass of a deny rule, caller app → outbound → gateways → destination inbound', async () => {
    const host = 'Host: ledger.mesh\r\n';
    // What refuses each attempt: the destination inbound's policy (403, naming the rule), its
    // normaliser (400 "request target refused: <reason>"), or already the caller's outbound
    // listener, whose strict HTTP/1.1 parser answers 400 "malformed HTTP/1.1 request (HPE_...)".
    const denied = (rule: string): RegExp => new RegExp(`\\(rule ledger-guard/rules/${rule}, policy version \\d+\\)$`);
    const attempts: [head: string, status: number, message: RegExp, what: string][] = [
      [`GET //admin HTTP/1.1\r\n${host}`, 403, denied('0'), 'merged slashes (CVE-2021-31920)'],
      [`GET /public//..//admin HTTP/1.1\r\n${host}`, 403, denied('0'), 'slashes around a dot-dot'],
      [`GET /public/../admin HTTP/1.1\r\n${host}`, 403, denied('0'), '/../ resolved'],
      [`GET /public/./../admin/. HTTP/1.1\r\n${host}`, 403, denied('0'), '/./ resolved'],
      [`GET /public/%2e%2e/admin HTTP/1.1\r\n${host}`, 403, denied('0'), 'encoded dots'],
      [`GET /public/%2E%2e/admin HTTP/1.1\r\n${host}`, 403, denied('0'), 'encoded dots, mixed case'],
      [`GET /%61dmin HTTP/1.1\r\n${host}`, 403, denied('0'), 'an encoded unreserved letter'],
      [`GET /admin#/public HTTP/1.1\r\n${host}`, 403, denied('0'), 'a fragment (CVE-2021-39156)'],
      [`GET /admin HTTP/1.1\r\nHost: LEDGER.MESH\r\n`, 403, denied('0'), 'host case (CVE-2021-39155)'],
      [`DELETE /items HTTP/1.1\r\n${host}`, 403, denied('1'), 'a denied method'],
      [`GET /items HTTP/1.1\r\n${host}X-Debug: off\r\nX-Debug: on\r\n`, 403, denied('2'), 'a repeated header (CVE-2020-25017)'],
      [`GET /items HTTP/1.1\r\n${host}X-Debug: off,on\r\n`, 403, denied('2'), 'a comma-joined header'],
      [`GET /public/..%2Fadmin HTTP/1.1\r\n${host}`, 400, /^request target refused: an encoded slash '%2F'$/, 'an encoded slash'],
      [`GET /public/..%2fadmin HTTP/1.1\r\n${host}`, 400, /^request target refused: an encoded slash '%2F'$/, 'an encoded slash, lower case'],
      [`GET /public%5C..%5Cadmin HTTP/1.1\r\n${host}`, 400, /^request target refused: an encoded backslash '%5C'$/, 'an encoded backslash'],
      [`GET /admin%00.js HTTP/1.1\r\n${host}`, 400, /^request target refused: an encoded control character/, 'an encoded NUL'],
      [`GET /admin%0d%0a HTTP/1.1\r\n${host}`, 400, /^request target refused: an encoded control character/, 'encoded CR LF'],
      [`GET /admin\u0000 HTTP/1.1\r\n${host}`, 400, /^malformed HTTP\/1\.1 request \(HPE_/, 'a raw NUL'],
      [`GET /admin\u0001x HTTP/1.1\r\n${host}`, 400, /^malformed HTTP\/1\.1 request \(HPE_/, 'a raw control character'],
      [`get /admin HTTP/1.1\r\n${host}`, 400, /^malformed HTTP\/1\.1 request \(HPE_/, 'a lower-case HTTP/1.1 method (no method to the parser)'],
    ];
    const hits = app('ledger').hits;
    const outcomes = [];
    for (const [head, status, message, what] of attempts) {
      const reply = await rawRequest(ports.shop, head);
      outcomes.push({ what, status: reply.status, body: reply.body });
      assert.equal(reply.status, status, `${what}: ${reply.body}`);
      assert.equal(codeOf(reply.body), status === 403 ? 'MERIDIAN_ERR_POLICY_DENIED' : 'MERIDIAN_ERR_BAD_REQUEST', `${what}: ${reply.body}`);
      assert.match((JSON.parse(reply.body) as { message: string }).message, message, what);
    }
    assert.equal(app('ledger').hits, hits, `an attempt reached the app: ${JSON.stringify(outcomes)}`);
  });

  it('h2c to the outbound: a lower-case method, a repeated header and dot segments in :path are judged as the app would see them', async () => {
    const session = await h2c(ports.shop);
    try {
      const hits = app('ledger').hits;
      const attempts: [Record<string, string | string[]>, string][] = [
        [{ ':method': 'delete', ':path': '/items' }, 'ledger-guard/rules/1'],
        [{ ':path': '/items', 'x-debug': ['off', 'on'] }, 'ledger-guard/rules/2'],
        [{ ':path': '/x/../admin' }, 'ledger-guard/rules/0'],
        [{ ':path': '/%2e%2e/admin' }, 'ledger-guard/rules/0'],
      ];
      for (const [headers, rule] of attempts) {
        const reply = await h2(session, { ':authority': 'ledger.mesh', ...headers });
        assert.equal(reply.status, 403, JSON.stringify(headers));
        assert.match(String(bodyJson(reply).message), new RegExp(`\\(rule ${rule}, policy version ${version}\\)$`));
      }
      assert.equal(app('ledger').hits, hits);
    } finally {
      session.close();
    }
  });

  it('the destination app receives the very path the policy judged', async () => {
    const hits = app('ledger').hits;
    const reply = await rawRequest(ports.shop, 'GET /items/./a//b/../c/%7Euser/%41?q=%2F&r=1 HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.equal(reply.status, 200, reply.body);
    assert.equal((JSON.parse(reply.body) as Seen).url, '/items/a/c/~user/A?q=%2F&r=1');
    // web may only call /public: a path that resolves there is allowed, and the app gets the resolved one.
    const web = await rawRequest(ports.web, 'GET /admin/../public/%72eport HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.equal(web.status, 200, web.body);
    assert.equal((JSON.parse(web.body) as Seen).url, '/public/report');
    // And one that merely starts with the allowed prefix before resolving is judged (and denied) as resolved.
    const escape = await rawRequest(ports.web, 'GET /public/../items HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.equal(escape.status, 403, escape.body);
    assert.match((JSON.parse(escape.body) as { message: string }).message, /may not GET \/items on service "ledger"/);
    assert.equal(app('ledger').hits, hits + 2);
  });
});
