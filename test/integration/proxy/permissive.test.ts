import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { InboundProxy, RequestRecord } from '../../../agent/proxy/index.js';
import { meshServerName } from '../../../shared/mesh/index.js';
import { startHttpApp, type Seen, type TestApp } from '../../support/apps.js';
import { startNode } from '../../support/mesh/index.js';
import { mtlsConnect, spiffe, TestTrustDomain } from '../../support/pki/index.js';
import { TestPolicy } from '../../support/policy.js';

const TD = 'spiffe://acme.internal';

/** ledger is permissive: anyone may read /public (a rule naming no site or service), eu/web everything. books stays strict. */
const PERMISSIVE = `
kind: PolicyDefaults
metadata: {name: defaults}
spec: {defaultAction: deny, mtls: {services: {ledger: permissive}}}
---
kind: Authorization
metadata: {name: ledger-public}
spec: {action: allow, service: ledger, rules: [{from: ['${TD}/**'], to: [{paths: [{prefix: /public}]}]}]}
---
kind: Authorization
metadata: {name: ledger-web}
spec: {action: allow, service: ledger, rules: [{from: ['${TD}/site/eu/svc/web']}]}
---
kind: Authorization
metadata: {name: books-web}
spec: {action: allow, service: books, rules: [{from: ['${TD}/site/eu/svc/web']}]}
`;

/** One plaintext HTTP/1.1 request on a new TCP connection: the raw answer ('' when the port closed without one). */
async function plaintext(port: number, head: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`${head}Connection: close\r\n\r\n`);
  let raw = '';
  socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
  const timer = setTimeout(() => socket.destroy(), 3000);
  await once(socket, 'close');
  clearTimeout(timer);
  return raw;
}

function bodyOf(raw: string): Record<string, unknown> {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  // The app answers chunked: the JSON sits between the size line and the closing chunk.
  const json = body.startsWith('{') ? body : body.slice(body.indexOf('\r\n') + 2, body.lastIndexOf('}') + 1);
  return JSON.parse(json) as Record<string, unknown>;
}

describe('permissive mTLS: plaintext on the inbound port only for permissive services', () => {
  const pki = new TestTrustDomain();
  const policy = new TestPolicy();
  const records: RequestRecord[] = [];
  let ledger: TestApp;
  let books: TestApp;
  let node: InboundProxy;

  before(async () => {
    ledger = await startHttpApp('ledger', 'http');
    books = await startHttpApp('books', 'http2');
    node = await startNode(
      pki,
      'eu',
      {
        ledger: { address: '127.0.0.1', port: ledger.port, protocol: 'http' },
        books: { address: '127.0.0.1', port: books.port, protocol: 'http2' },
      },
      { policy: policy.live, onRequest: (record) => records.push(record) },
    );
  });
  after(async () => {
    await node.close(1000);
    await ledger.kill();
    await books.kill();
  });

  it('refuses plaintext while no service is permissive (before any policy: strict)', async () => {
    assert.equal(await plaintext(node.port, 'GET /public HTTP/1.1\r\nHost: ledger.mesh\r\n'), '');
    assert.equal(ledger.hits, 0);
  });

  it('serves a plaintext caller of a permissive service as unauthenticated: only rules naming no identity match it', async () => {
    policy.apply(PERMISSIVE);
    const served = await plaintext(node.port, 'GET /public/a/../b HTTP/1.1\r\nHost: ledger.mesh\r\nX-Meridian-Caller: spiffe://acme.internal/site/eu/svc/web\r\n');
    assert.match(served, /^HTTP\/1\.1 200 /);
    const seen = bodyOf(served) as unknown as Seen;
    assert.equal(seen.url, '/public/b');
    assert.equal(seen.headers['x-meridian-caller'], undefined, 'no caller identity, and the forged one is dropped');
    const denied = await plaintext(node.port, 'GET /private HTTP/1.1\r\nHost: ledger.mesh\r\n');
    assert.match(denied, /^HTTP\/1\.1 403 /);
    assert.deepEqual(bodyOf(denied), {
      code: 'MERIDIAN_ERR_POLICY_DENIED',
      message: 'an unauthenticated (plaintext) caller may not GET /private on service "ledger": the service has allow rules and none allows this caller (rule default, policy version 1)',
    });
    assert.match(await plaintext(node.port, 'GET /public/%2Fx HTTP/1.1\r\nHost: ledger.mesh\r\n'), /^HTTP\/1\.1 400 /);
    const last = records.at(-1);
    assert.deepEqual([last?.service, last?.peerService, last?.status, last?.policyRule], ['ledger', 'unauthenticated', 400, 'path-normalization']);
  });

  it('keeps strict services mTLS-only on the same port, and mTLS callers served as before', async () => {
    const strict = await plaintext(node.port, 'GET / HTTP/1.1\r\nHost: books.mesh\r\n');
    assert.match(strict, /^HTTP\/1\.1 403 /);
    assert.equal(bodyOf(strict).code, 'MERIDIAN_ERR_FORBIDDEN');
    assert.equal(books.hits, 0);
    const socket = await mtlsConnect(node.port, pki.identity('eu', 'svc', 'web'), { servername: meshServerName('ledger'), alpn: 'http/1.1' });
    socket.write('GET /private HTTP/1.1\r\nHost: ledger.mesh\r\nConnection: close\r\n\r\n');
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    await once(socket, 'close');
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.equal((bodyOf(raw) as unknown as Seen).headers['x-meridian-caller'], spiffe('eu', 'web'));
  });

  it('refuses plaintext again once the service is back to strict', async () => {
    policy.apply(PERMISSIVE.replace('mtls: {services: {ledger: permissive}}', 'mtls: {}'));
    const hits = ledger.hits;
    assert.equal(await plaintext(node.port, 'GET /public HTTP/1.1\r\nHost: ledger.mesh\r\n'), '');
    assert.equal(ledger.hits, hits);
  });
});
