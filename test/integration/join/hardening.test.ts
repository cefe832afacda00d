/**
 * Attacks on the join endpoint and the token store, each kept fixed: guessing floods (429 per
 * address, other addresses unaffected), oversized and malformed bodies, slow and idle clients,
 * old TLS, and the site's agents reading or writing the join bucket. After each, joins still work.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { joinSite } from '../../../agent/join/index.js';
import { startControlService, type ControlService } from '../../../services/site/index.js';
import { createJoinToken, openJoinStore } from '../../../services/site/join/index.js';
import { joinBucketName, siteConnectOptions } from '../../../shared/catalog/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { createCsr, formatJoinToken, generatePrivateKey, loadMtlsIdentity, parseJoinToken } from '../../../shared/identity/index.js';
import { fileScope } from '../../support/harness.js';
import { joiningAgentConfig, postJoinRaw } from '../../support/join.js';
import { captureLogger, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;
let control: ControlService;
let url: string;
let port: number;
let bundle: string;
const capture = captureLogger();
const TIMEOUTS = { handshakeMs: 1_000, headersMs: 1_000, requestMs: 3_000, idleMs: 1_500 };

before(async () => {
  site = await useSecureSite({ site: 'edge' });
  // Default rate limits (5 failures per address and minute); short timeouts to keep the file fast.
  control = await startControlService({ pki: site.pki, site: site.site, natsUrl: site.nats.url, heartbeatMs: 500, join: { port: 0, timeouts: TIMEOUTS }, log: capture.log });
  fileScope.after(() => control.stop());
  url = control.join.url ?? '';
  port = Number(new URL(url).port);
  bundle = site.pki.loadBundle().toPem();
});

async function token(): Promise<string> {
  const store = await openJoinStore({ pki: site.pki, site: site.site, natsUrl: site.nats.url });
  try {
    return (await createJoinToken(store.kv, { site: site.site, siteCa: site.pki.loadSiteCertificate(site.site) })).text;
  } finally {
    await store.close();
  }
}

/** A TCP connection to the endpoint from a given loopback address (limits are per address). */
function fromAddress(localAddress: string): Socket {
  const socket = netConnect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  return socket;
}

/** A good join from 127.0.0.1: the endpoint still serves. */
async function stillServes(node: string): Promise<void> {
  const result = await joinSite({ token: await token(), control: `127.0.0.1:${port}`, config: joiningAgentConfig(site, node) });
  assert.equal(result.identity, `spiffe://acme.internal/site/edge/agent/${node}`);
}

describe('the join endpoint under attack', () => {
  it('a flood of bad tokens from one address gets 429 with Retry-After after 5 failures; another address still joins', async () => {
    const genuine = parseJoinToken(await token());
    const guess = (n: number): string => formatJoinToken({ ...genuine, secret: String(n).padStart(43, 'x') });
    const csr = createCsr({ privateKey: generatePrivateKey(), commonName: 'vm-guess', uris: ['spiffe://acme.internal/site/edge/agent/vm-guess'] });
    for (let n = 0; n < 5; n += 1) {
      const answer = await postJoinRaw(url, { token: guess(n), csr, node: 'vm-guess' }, { bundle, localAddress: '127.0.0.2' });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.code, 'MERIDIAN_ERR_JOIN_TOKEN_INVALID');
    }
    for (let n = 5; n < 25; n += 1) {
      const answer = await postJoinRaw(url, { token: guess(n), csr, node: 'vm-guess' }, { bundle, localAddress: '127.0.0.2' });
      assert.equal(answer.status, 429);
      assert.equal(answer.body.code, 'MERIDIAN_ERR_RATE_LIMITED');
      const retryAfter = Number(answer.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    }
    // The blocked address is blocked even with the genuine token; the token stays usable.
    const blocked = await postJoinRaw(url, { token: formatJoinToken(genuine), csr, node: 'vm-guess' }, { bundle, localAddress: '127.0.0.2' });
    assert.equal(blocked.status, 429);
    const result = await joinSite({ token: formatJoinToken(genuine), control: `127.0.0.1:${port}`, config: joiningAgentConfig(site, 'vm-good') });
    assert.equal(result.identity, 'spiffe://acme.internal/site/edge/agent/vm-good');
    const refusals = capture.lines.filter((l) => l.message === 'join refused' && l.fields['remote'] === '127.0.0.2');
    assert.equal(refusals.length, 5, 'each failure is logged; the 429s that follow are not (a flood cannot flood the log)');
    assert.ok(refusals.every((l) => l.fields['tokenId'] === genuine.id && !JSON.stringify(l.fields).includes(genuine.secret)));
    assert.equal(capture.lines.filter((l) => l.message === 'join: too many failures, address blocked' && l.fields['remote'] === '127.0.0.2').length, 1);
  });

  it('a body over 16 KB gets 413 MERIDIAN_ERR_BODY_TOO_LARGE', async () => {
    const answer = await postJoinRaw(url, { token: 'x', csr: 'A'.repeat(64 * 1024), node: 'vm-big' }, { bundle, localAddress: '127.0.0.3' });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.code, 'MERIDIAN_ERR_BODY_TOO_LARGE');
    await stillServes('vm-after-big');
  });

  it('malformed JSON, a missing field and a wrong content type get 400 MERIDIAN_ERR_BAD_REQUEST naming the problem', async () => {
    const broken = await postJoinRaw(url, '{"token": "mjt1.', { bundle, localAddress: '127.0.0.4' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.code, 'MERIDIAN_ERR_BAD_REQUEST');
    const missing = await postJoinRaw(url, { token: await token(), csr: 'x' }, { bundle, localAddress: '127.0.0.4' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'MERIDIAN_ERR_BAD_REQUEST');
    assert.match(missing.body.message ?? '', /\/node/);
    const form = await postJoinRaw(url, 'token=x', { bundle, localAddress: '127.0.0.4', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 400);
    assert.equal(form.body.code, 'MERIDIAN_ERR_BAD_REQUEST');
    await stillServes('vm-after-malformed');
  });

  it('slowloris headers get 408 and the connection closed within the headers timeout', async () => {
    const socket = tlsConnect({ socket: fromAddress('127.0.0.5'), ca: bundle, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const started = Date.now();
    socket.write('POST /v1/join HTTP/1.1\r\nHost: control\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(drip);
    const elapsed = Date.now() - started;
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.ok(elapsed < TIMEOUTS.headersMs + 1_500, `closed after ${elapsed} ms`);
    await stillServes('vm-after-slowloris');
  });

  it('a client that never completes the TLS handshake, or never sends a request, is cut', async () => {
    const raw = netConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.6' });
    raw.on('error', () => undefined);
    const rawStarted = Date.now();
    await new Promise((resolve) => raw.once('close', resolve));
    assert.ok(Date.now() - rawStarted < TIMEOUTS.handshakeMs + 1_500, 'the handshake timeout cut a silent TCP client');
    const idle = tlsConnect({ socket: fromAddress('127.0.0.6'), ca: bundle, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
    idle.on('error', () => undefined);
    // Flowing, so the client sees the server's close.
    idle.resume();
    await new Promise((resolve) => idle.once('secureConnect', resolve));
    const idleStarted = Date.now();
    await new Promise((resolve) => idle.once('close', resolve));
    assert.ok(Date.now() - idleStarted < TIMEOUTS.idleMs + TIMEOUTS.headersMs + 1_500, 'an idle TLS client was cut');
    await stillServes('vm-after-idle');
  });

  it('a second control service on the taken join port fails to start naming /join/port; the first keeps serving', async () => {
    await assert.rejects(
      startControlService({ pki: site.pki, site: site.site, natsUrl: site.nats.url, join: { port }, log: captureLogger().log }),
      (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_PORT_IN_USE') && /^\/join\/port: /.test(error.message),
    );
    await stillServes('vm-after-port-clash');
  });

  it('TLS 1.2 is refused at the handshake', async () => {
    const old = tlsConnect({ socket: fromAddress('127.0.0.7'), ca: bundle, checkServerIdentity: () => undefined, maxVersion: 'TLSv1.2' });
    const error = await new Promise<Error>((resolve) => old.once('error', resolve));
    assert.match(error.message, /protocol version|wrong version|unsupported protocol/i);
  });
});

describe('the join-token bucket', () => {
  it("the site's agents can neither read nor write it (permissions violation); the token stays usable", async () => {
    const config = site.agentConfig('vm-nosy');
    const identity = loadMtlsIdentity({ ...config.nats, trustDomain: config.nats.trustDomain });
    const nc = await connect({ ...siteConnectOptions({ servers: site.nats.url, site: site.site, password: site.setup.password, identity }), maxReconnectAttempts: 0 });
    fileScope.after(() => nc.close());
    const bucket = joinBucketName(site.site);
    const text = await token();
    const id = parseJoinToken(text).id;
    const js = jetstream(nc, { timeout: 2_000 });
    await assert.rejects(async () => (await new Kvm(js).open(bucket)).get(id), /Permissions Violation for Publish/);
    await assert.rejects(nc.request(`$KV.${bucket}.${id}`, '{}', { timeout: 1_000 }), /Permissions Violation for Publish/);
    await assert.rejects(nc.request(`$JS.API.DIRECT.GET.KV_${bucket}.$KV.${bucket}.${id}`, '', { timeout: 1_000 }), /Permissions Violation for Publish/);
    await assert.rejects(nc.request(`$JS.API.STREAM.MSG.GET.KV_${bucket}`, JSON.stringify({ last_by_subj: `$KV.${bucket}.${id}` }), { timeout: 1_000 }), /Permissions Violation for Publish/);
    // The token is intact and usable.
    await joinSite({ token: text, control: `127.0.0.1:${port}`, config: joiningAgentConfig(site, 'vm-after-nosy') });
  });
});
