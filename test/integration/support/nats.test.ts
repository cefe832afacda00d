import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { isMeridianError } from '../../../shared/errors/index.js';
import { startNatsServer } from '../../support/servers/index.js';
import { spiffeServerCheck } from '../../../shared/identity/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import { isAlive, uniqueName, useNatsServer, useTempDir } from '../../support/harness.js';

async function withClient<T>(options: Parameters<typeof connect>[0], fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect(options);
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Resolves on the connection's next status of `type`. */
async function nextStatus(nc: NatsConnection, type: string): Promise<void> {
  for await (const status of nc.status()) if (status.type === type) return;
}

test('a fresh server on a free loopback port serves JetStream KV', { timeout: 20_000 }, async (t) => {
  const server = await useNatsServer({}, t);
  assert.match(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.url, `nats://127.0.0.1:${server.port}`);
  assert.match(server.monitorUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(server.dir.startsWith(join(tmpdir(), 'meridian-nats-')), server.dir);
  assert.match(readFileSync(server.configPath, 'utf8'), /ports_file_dir/);
  await withClient({ servers: server.url }, async (nc) => {
    const kv = await new Kvm(nc).create(uniqueName('fresh'));
    await kv.put('greeting', 'hello');
    assert.equal((await kv.get('greeting'))?.string(), 'hello');
  });
});

test('restart() keeps url, port and JetStream data, and a connected client reconnects', { timeout: 20_000 }, async (t) => {
  const server = await useNatsServer({}, t);
  const { url, monitorUrl, pid } = server;
  const bucket = uniqueName('restart');
  const nc = await connect({ servers: url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  t.after(() => nc.close());
  await (await new Kvm(nc).create(bucket)).put('k', 'before');
  const reconnected = nextStatus(nc, 'reconnect');
  await server.restart();
  assert.equal(server.url, url);
  assert.equal(server.monitorUrl, monitorUrl);
  assert.notEqual(server.pid, pid);
  assert.equal(isAlive(pid), false, 'old process is gone');
  // The old connection must come back by itself on the same port and see the persisted value.
  // (Wait for it: nats.js v3 times out a KV get issued while still disconnected.)
  await reconnected;
  const kv = await new Kvm(nc).open(bucket);
  assert.equal((await kv.get('k'))?.string(), 'before');
});

test('kill() is a crash: the PID is gone, the store survives, restart() brings the data back', { timeout: 20_000 }, async (t) => {
  const server = await useNatsServer({}, t);
  const bucket = uniqueName('crash');
  await withClient({ servers: server.url }, async (nc) => {
    await (await new Kvm(nc).create(bucket)).put('k', 'survives');
  });
  const pid = server.pid;
  await server.kill();
  assert.equal(server.running, false);
  assert.equal(isAlive(pid), false);
  assert.ok(existsSync(join(server.dir, 'jetstream')), 'store kept after a crash');
  await server.restart();
  await withClient({ servers: server.url }, async (nc) => {
    assert.equal((await (await new Kvm(nc).open(bucket)).get('k'))?.string(), 'survives');
  });
});

test('stop() ends the process and removes the temp dir; a second stop() is a no-op', { timeout: 20_000 }, async () => {
  const server = await startNatsServer();
  const { pid, dir } = server;
  assert.ok(existsSync(dir));
  await server.stop();
  assert.equal(isAlive(pid), false);
  assert.equal(existsSync(dir), false);
  await server.stop();
  await assert.rejects(server.restart(), { code: 'MERIDIAN_ERR_BAD_ARGUMENT' });
});

test('extraConfig is appended: users and per-subject permissions apply', { timeout: 20_000 }, async (t) => {
  const extraConfig = `authorization {
  users: [ { user: "svc", password: "s3cret", permissions: { publish: "allowed.>", subscribe: "_INBOX.>" } } ]
}`;
  const server = await useNatsServer({ extraConfig, jetstream: false }, t);
  await assert.rejects(connect({ servers: server.url, reconnect: false }), /Authorization/i);
  await withClient({ servers: server.url, user: 'svc', pass: 's3cret' }, async (nc) => {
    const denied = new Promise<Error | undefined>((resolve) => {
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === 'error') resolve(status.error);
        }
      })();
    });
    nc.publish('forbidden.subject', 'x');
    assert.match(String(await denied), /Permissions Violation/i);
  });
});

test('tls option: clients connect over TLS, and verify requires a client certificate', { timeout: 20_000 }, async (t) => {
  const dir = useTempDir('meridian-pki-', t);
  const pki = new TestTrustDomain();
  const nats = pki.writeIdentity(dir, 'eu', 'svc', 'nats');
  const client = pki.writeIdentity(dir, 'eu', 'agent', 'node-1');
  // Mesh certificates name a SPIFFE ID, not a host: clients check that instead of 127.0.0.1.
  // (nats.js passes its tls options on to node:tls, checkServerIdentity included.)
  const checkServerIdentity = spiffeServerCheck(pki.bundle, (peer) => peer.uri === nats.identity.uri);
  const withCertificate = { caFile: client.caFile, certFile: client.certFile, keyFile: client.keyFile, checkServerIdentity };
  const withoutCertificate = { caFile: client.caFile, checkServerIdentity };
  const server = await useNatsServer({ tls: { certFile: nats.certFile, keyFile: nats.keyFile, caFile: nats.caFile, verify: true } }, t);
  await withClient({ servers: server.url, tls: withCertificate }, async (nc) => {
    assert.equal(nc.info?.tls_required, true);
    await nc.flush();
  });
  await assert.rejects(connect({ servers: server.url, reconnect: false, tls: withoutCertificate }));
});

test('a server that exits during start-up rejects with MERIDIAN_ERR_PROCESS_START, its log, and no dir left', { timeout: 20_000 }, async () => {
  const err = await startNatsServer({ extraConfig: 'this_is_not_a_directive {{{' }).catch((e: unknown) => e);
  assert.ok(isMeridianError(err, 'MERIDIAN_ERR_PROCESS_START'), String(err));
  assert.match(err.message, /exited \(code 1\)/);
  assert.match(err.message, /Parse error on line \d+/, 'the tail of the server output says what is wrong');
  const dir = /in (\S*meridian-nats-\S+)/.exec(err.message)?.[1];
  assert.ok(dir !== undefined, err.message);
  assert.equal(existsSync(dir), false);
});

test('a fixed port that is taken fails fast with "address already in use"', { timeout: 20_000 }, async (t) => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  assert.ok(address !== null && typeof address === 'object');
  const started = Date.now();
  await assert.rejects(startNatsServer({ port: address.port }), (err: unknown) => {
    assert.ok(isMeridianError(err, 'MERIDIAN_ERR_PROCESS_START'));
    assert.match(err.message, /address already in use/);
    return true;
  });
  assert.ok(Date.now() - started < 5000);
});

test('bad options are refused before anything is spawned', { timeout: 20_000 }, async () => {
  await assert.rejects(startNatsServer({ port: 70000 }), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: /port must be an integer port in 1\.\.65535, got 70000/ });
  await assert.rejects(startNatsServer({ startTimeoutMs: 0 }), { code: 'MERIDIAN_ERR_BAD_ARGUMENT' });
});
