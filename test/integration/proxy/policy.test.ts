import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { InboundProxy, OutboundProxy } from '../../../agent/proxy/index.js';
import { accessLogLine, RequestTelemetry } from '../../../agent/telemetry/index.js';
import type { MtlsIdentity } from '../../../shared/identity/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { AgentMetrics, createRegistry, exposition } from '../../../shared/telemetry/index.js';
import { ECHO_SERVICE, startGrpcApp, startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { bodyJson, h2 } from '../../support/clients.js';
import { startCaller, startNode, startTcpEcho, TestCatalog } from '../../support/mesh/index.js';
import { mtlsConnect, mtlsH2, spiffe, TestTrustDomain } from '../../support/pki/index.js';
import { TestPolicy } from '../../support/policy.js';
import { parseRawReply } from '../../support/raw-http.js';

const TD = 'spiffe://acme.internal';

/**
 * Default deny. ledger: eu/web (exact) and every workload of site us (prefix) may call it, but
 * nobody reaches /admin, DELETE, or a request with `x-debug: on`. books: no rule (default deny).
 * cache (TCP): the web service of any site. echo (gRPC): web, but not its Count method.
 */
const POLICY = `
kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: deny}
---
kind: Authorization
metadata: {name: ledger-callers}
spec:
  action: allow
  service: ledger
  rules:
    - from: ['${TD}/site/eu/svc/web']
    - from: ['${TD}/site/us/**']
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
metadata: {name: cache-clients}
spec: {action: allow, service: cache, rules: [{from: ['${TD}/site/*/svc/web']}]}
---
kind: Authorization
metadata: {name: echo-callers}
spec: {action: allow, service: echo, rules: [{from: ['${TD}/site/eu/svc/web']}]}
---
kind: Authorization
metadata: {name: echo-no-count}
spec: {action: deny, service: echo, rules: [{from: ['${TD}/**'], to: [{paths: [{exact: /meridian.test.Echo/Count}]}]}]}
`;

/** Everything a connection received until it closed (cut after 3 s so a connection left open fails the test). */
async function drained(socket: TLSSocket): Promise<Buffer> {
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const timer = setTimeout(() => socket.destroy(), 3000);
  await once(socket, 'close');
  clearTimeout(timer);
  return Buffer.concat(chunks);
}


/** One raw HTTP/1.1 request (written byte for byte, as an attacker would) on a fresh mTLS connection. */
async function rawH1(port: number, identity: MtlsIdentity, head: string): Promise<{ status: number; body: string }> {
  const socket = await mtlsConnect(port, identity, { servername: meshServerName('ledger'), alpn: 'http/1.1' });
  socket.write(`${head}Connection: close\r\n\r\n`);
  const raw = (await drained(socket)).toString();
  const reply = parseRawReply(raw, true);
  return { status: reply.status, body: reply.status === 0 ? raw : reply.body };
}

describe('inbound authorization: the policy set decides at the destination', () => {
  const pki = new TestTrustDomain();
  const policy = new TestPolicy();
  const lines: string[] = [];
  const metrics = new AgentMetrics(createRegistry({ role: 'agent', site: 'eu', name: 'node-eu' }), { site: 'eu' });
  const telemetry = new RequestTelemetry('eu', { metrics, accessLog: { write: (record, site) => lines.push(accessLogLine(record, site)), close: () => Promise.resolve() } });
  const web = pki.identity('eu', 'svc', 'web');
  const other = pki.identity('eu', 'svc', 'other');
  let ledger: TestApp;
  let books: TestApp;
  let echo: { port: number; close: () => Promise<void> };
  let grpcApp: { port: number; close: () => void };
  let node: InboundProxy;
  let caller: OutboundProxy;
  let client: Client;

  before(async () => {
    policy.apply(POLICY);
    ledger = await startHttpApp('ledger', 'http');
    books = await startHttpApp('books', 'http2');
    echo = await startTcpEcho();
    grpcApp = await startGrpcApp();
    node = await startNode(
      pki,
      'eu',
      {
        ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http', exported: true },
        books: { address: '127.0.0.1', port: books.port, protocol: 'http2', exported: true },
        cache: { address: '127.0.0.1', port: echo.port, protocol: 'tcp', exported: true },
        echo: { address: '127.0.0.1', port: grpcApp.port, protocol: 'grpc' },
      },
      { policy: policy.live, onRequest: telemetry.observe },
    );
    const catalog = new TestCatalog();
    catalog.add({ service: 'echo', instanceId: 'echo-1', site: 'eu', meshPort: node.port, protocol: 'grpc' });
    caller = await startCaller(pki, catalog, { site: 'eu', service: 'web' }, { identity: web });
    client = new Client(`127.0.0.1:${caller.httpPort ?? 0}`, credentials.createInsecure(), { 'grpc.default_authority': 'echo.mesh' });
  });
  after(async () => {
    client.close();
    await caller.close(1000);
    await node.close(1000);
    await ledger.kill();
    await books.kill();
    await echo.close();
    grpcApp.close();
  });

  it('allows exact and site-prefix callers, denies the rest by default, on HTTP/1.1 and HTTP/2', async () => {
    assert.equal((await rawH1(node.port, web, 'GET /items HTTP/1.1\r\nHost: ledger.mesh\r\n')).status, 200);
    assert.equal((await rawH1(node.port, pki.identity('us', 'svc', 'billing'), 'GET /items HTTP/1.1\r\nHost: ledger.mesh\r\n')).status, 200);
    const hits = ledger.hits;
    const denied = await rawH1(node.port, other, 'GET /items HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.equal(denied.status, 403);
    assert.deepEqual(JSON.parse(denied.body), {
      code: 'MERIDIAN_ERR_POLICY_DENIED',
      message: `${spiffe('eu', 'other')} may not GET /items on service "ledger": the service has allow rules and none allows this caller (rule default, policy version 1)`,
    });
    // A site not named in any allow rule: default deny too.
    assert.equal((await rawH1(node.port, pki.identity('ap', 'svc', 'web'), 'GET /items HTTP/1.1\r\nHost: ledger.mesh\r\n')).status, 403);
    assert.equal(ledger.hits, hits, 'no denied request reached the app');
    // books has no rule at all: the federation default (deny) decides, over HTTP/2 as well.
    const { session } = await mtlsH2(node.port, web, 'books');
    try {
      const reply = await h2(session, { ':authority': 'books.mesh', ':path': '/shelf' });
      assert.equal(reply.status, 403);
      assert.equal(bodyJson(reply).message, `${spiffe('eu', 'web')} may not GET /shelf on service "books": no rule matches; the federation default is deny (rule default, policy version 1)`);
      assert.equal(books.hits, 0);
    } finally {
      session.close();
    }
  });

  it('denies by path prefix, method (any case) and header, whatever an allow rule says', async () => {
    const cases: [string, string][] = [
      ['GET /admin HTTP/1.1\r\nHost: ledger.mesh\r\n', 'ledger-guard/rules/0'],
      ['GET /admin/users?x=1 HTTP/1.1\r\nHost: ledger.mesh\r\n', 'ledger-guard/rules/0'],
      ['DELETE /items/1 HTTP/1.1\r\nHost: ledger.mesh\r\n', 'ledger-guard/rules/1'],
      ['GET /items HTTP/1.1\r\nHost: ledger.mesh\r\nX-Debug: on\r\n', 'ledger-guard/rules/2'],
    ];
    const hits = ledger.hits;
    for (const [head, rule] of cases) {
      const reply = await rawH1(node.port, web, head);
      assert.equal(reply.status, 403, head);
      assert.match((JSON.parse(reply.body) as { message: string }).message, new RegExp(`\\(rule ${rule}, policy version 1\\)$`), head);
    }
    // /administrator is not under /admin: prefixes match whole segments.
    assert.equal((await rawH1(node.port, web, 'GET /administrator HTTP/1.1\r\nHost: ledger.mesh\r\n')).status, 200);
    assert.equal(ledger.hits, hits + 1);
    // HTTP/2 lets a client spell its method in lower case: still DELETE.
    const { session } = await mtlsH2(node.port, web, 'ledger');
    try {
      const reply = await h2(session, { ':authority': 'ledger.mesh', ':method': 'delete', ':path': '/items/1' });
      assert.equal(reply.status, 403);
      assert.match(String(bodyJson(reply).message), /rule ledger-guard\/rules\/1/);
    } finally {
      session.close();
    }
  });

  it('defeats each normalisation bypass of a deny rule (CVE-2021-31920, -39156, -39155, CVE-2020-25017 classes)', async () => {
    const attempts: [string, number, string][] = [
      ['GET //admin HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, 'merged slashes (CVE-2021-31920)'],
      ['GET /public//..//admin HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, 'slashes around a dot-dot'],
      ['GET /public/../admin HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, '/../ resolved'],
      ['GET /public/./../admin/. HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, '/./ resolved'],
      ['GET /public/%2e%2e/admin HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, 'encoded dots'],
      ['GET /public/%2E%2e/admin HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, 'encoded dots, mixed case'],
      ['GET /%61dmin HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, 'an encoded unreserved letter'],
      ['GET /admin#/public HTTP/1.1\r\nHost: ledger.mesh\r\n', 403, 'a fragment (CVE-2021-39156)'],
      ['GET /admin HTTP/1.1\r\nHost: LEDGER.MESH\r\n', 403, 'host case (CVE-2021-39155)'],
      ['GET /items HTTP/1.1\r\nHost: ledger.mesh\r\nX-Debug: off\r\nX-Debug: on\r\n', 403, 'a repeated header (CVE-2020-25017)'],
      ['GET /items HTTP/1.1\r\nHost: ledger.mesh\r\nX-Debug: off,on\r\n', 403, 'a comma-joined header'],
      ['GET /public/..%2Fadmin HTTP/1.1\r\nHost: ledger.mesh\r\n', 400, 'an encoded slash'],
      ['GET /public/..%2fadmin HTTP/1.1\r\nHost: ledger.mesh\r\n', 400, 'an encoded slash, lower case'],
      ['GET /public%5C..%5Cadmin HTTP/1.1\r\nHost: ledger.mesh\r\n', 400, 'an encoded backslash'],
      ['GET /admin%00.js HTTP/1.1\r\nHost: ledger.mesh\r\n', 400, 'an encoded NUL'],
      ['GET /admin%0d%0a HTTP/1.1\r\nHost: ledger.mesh\r\n', 400, 'encoded CR LF'],
      ['GET /%zzadmin HTTP/1.1\r\nHost: ledger.mesh\r\n', 400, 'a broken escape'],
    ];
    const hits = ledger.hits;
    for (const [head, expected, what] of attempts) {
      const reply = await rawH1(node.port, web, head);
      assert.equal(reply.status, expected, what);
      const code = (JSON.parse(reply.body) as { code: string }).code;
      assert.equal(code, expected === 403 ? 'MERIDIAN_ERR_POLICY_DENIED' : 'MERIDIAN_ERR_BAD_REQUEST', what);
    }
    const nul = await rawH1(node.port, web, 'GET /admin\u0000 HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.equal(nul.status, 400, 'a raw NUL: refused by the strict parser before any rule');
    assert.equal(ledger.hits, hits, 'no bypass reached the app');
    // The same over HTTP/2, where the client sends the :path verbatim.
    const { session } = await mtlsH2(node.port, web, 'ledger');
    try {
      for (const path of ['//admin', '/x/../admin', '/%2e%2e/admin', '/admin#x', '/a/%2e/../admin']) {
        assert.equal((await h2(session, { ':authority': 'ledger.mesh', ':path': path })).status, 403, path);
      }
      assert.equal((await h2(session, { ':authority': 'ledger.mesh', ':path': '/x/..%2Fadmin' })).status, 400);
      assert.equal((await h2(session, { ':authority': 'ledger.mesh', ':path': '/items', 'x-debug': ['off', 'on'] })).status, 403, 'repeated h2 header');
    } finally {
      session.close();
    }
    assert.equal(ledger.hits, hits);
  });

  it("with encodedSlashes 'keep' (the agent's mesh.encodedSlashes), an encoded slash reaches the app encoded, judged as part of its segment", async () => {
    const keeping = await startNode(pki, 'eu', { ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http', exported: true } }, { policy: policy.live, encodedSlashes: 'keep' });
    try {
      const kept = await rawH1(keeping.port, web, 'GET /public/a%2fb/../c HTTP/1.1\r\nHost: ledger.mesh\r\n');
      assert.equal(kept.status, 200);
      assert.equal((JSON.parse(kept.body) as Seen).url, '/public/c');
      const opaque = await rawH1(keeping.port, web, 'GET /public/a%2fb HTTP/1.1\r\nHost: ledger.mesh\r\n');
      assert.equal((JSON.parse(opaque.body) as Seen).url, '/public/a%2Fb');
    } finally {
      await keeping.close(1000);
    }
  });

  it('forwards to the app the very path the policy judged', async () => {
    const reply = await rawH1(node.port, web, 'GET /items/./a//b/../c/%7Euser/%41?q=%2F&r=1 HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.body) as Seen).url, '/items/a/c/~user/A?q=%2F&r=1');
    const { session } = await mtlsH2(node.port, web, 'books');
    try {
      // books is denied by default; the 403 message shows the normalised path it judged.
      const denied = await h2(session, { ':authority': 'books.mesh', ':path': '/x/../shelf#top' });
      assert.match(String(bodyJson(denied).message), /may not GET \/shelf on service "books"/);
    } finally {
      session.close();
    }
  });

  it('answers a denied gRPC call with PERMISSION_DENIED (status 7) and lets an allowed one through', async () => {
    const unary = ECHO_SERVICE.unary;
    const reply = await new Promise<unknown>((resolve, reject) =>
      client.makeUnaryRequest(unary.path, unary.requestSerialize, unary.responseDeserialize, { message: 'hi' }, new Metadata(), {}, (error, value) => (error ? reject(error) : resolve(value))),
    );
    assert.deepEqual(reply, { message: 'hi', caller: spiffe('eu', 'web'), n: 0 });
    const count = ECHO_SERVICE.count;
    const stream = client.makeServerStreamRequest(count.path, count.requestSerialize, count.responseDeserialize, { message: 'x', count: 3 }, new Metadata(), {});
    const error = await new Promise<ServiceError>((resolve) => {
      stream.on('data', () => undefined);
      stream.on('error', resolve);
    });
    assert.equal(error.code, status.PERMISSION_DENIED);
    assert.equal(
      error.details,
      `${spiffe('eu', 'web')} may not POST /meridian.test.Echo/Count on service "echo": denied by Authorization echo-no-count, rule 0 (rule echo-no-count/rules/0, policy version 1)`,
    );
  });

  it('closes a denied TCP connection with the refusal byte and pipes an allowed one', async () => {
    const refused = await mtlsConnect(node.port, other, { servername: meshServerName('cache'), alpn: 'meridian-tcp' });
    refused.write('ping');
    assert.deepEqual(await drained(refused), Buffer.from([2]));
    const allowed = await mtlsConnect(node.port, pki.identity('us', 'svc', 'web'), { servername: meshServerName('cache'), alpn: 'meridian-tcp' });
    const [accepted] = (await once(allowed, 'data')) as [Buffer];
    assert.deepEqual(accepted, Buffer.from([0]));
    allowed.destroy();
  });

  it('counts every refusal by service and rule, and writes it to the access log with the rule', async () => {
    const denials = (await exposition(metrics.registry)).body.split('\n').filter((line) => line.startsWith('meridian_policy_denials_total{'));
    const count = (service: string, rule: string): number => {
      const line = denials.find((l) => l.includes(`service="${service}"`) && l.includes(`rule="${rule}"`));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    assert.equal(count('ledger', 'default'), 2);
    assert.equal(count('books', 'default'), 2);
    assert.equal(count('ledger', 'ledger-guard/rules/0'), 2 + 9 + 5);
    assert.equal(count('ledger', 'ledger-guard/rules/2'), 1 + 2 + 1);
    assert.equal(count('ledger', 'path-normalization'), 6 + 1);
    assert.equal(count('echo', 'echo-no-count/rules/0'), 1);
    assert.equal(count('cache', 'cache-clients/rules/0'), 0);
    assert.equal(count('cache', 'default'), 1);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const tcp = logged.find((l) => l.protocol === 'tcp' && l.status === 403);
    assert.deepEqual(
      { source: tcp?.source, destination: tcp?.destination, rule: tcp?.rule },
      { source: { site: 'eu', service: 'other' }, destination: { site: 'eu', service: 'cache' }, rule: 'default' },
    );
    const bypass = logged.find((l) => l.path === '/admin' && l.method === 'GET' && l.status === 403);
    assert.equal(bypass?.rule, 'ledger-guard/rules/0');
    // A gRPC denial is an HTTP 200 carrying grpc-status 7: its line names the rule all the same.
    assert.equal(logged.find((l) => l.path === '/meridian.test.Echo/Count')?.rule, 'echo-no-count/rules/0');
    // Allowed requests carry no rule field.
    const allowed = logged.filter((l) => l.status === 200 && l.path !== '/meridian.test.Echo/Count');
    assert.ok(allowed.length >= 5 && allowed.every((l) => !('rule' in l)));
  });

  it('applies a new version to the next request on an open connection', async () => {
    const { session } = await mtlsH2(node.port, other, 'ledger');
    try {
      assert.equal((await h2(session, { ':authority': 'ledger.mesh', ':path': '/items' })).status, 403);
      policy.apply(`${POLICY}---\nkind: Authorization\nmetadata: {name: ledger-other}\nspec: {action: allow, service: ledger, rules: [{from: ['${TD}/site/eu/svc/other']}]}\n`);
      assert.equal((await h2(session, { ':authority': 'ledger.mesh', ':path': '/items' })).status, 200);
    } finally {
      session.close();
    }
  });
});
