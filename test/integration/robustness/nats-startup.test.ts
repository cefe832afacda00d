/**
 * Starting against a NATS that cannot hold the catalog: a server without JetStream is named at
 * once (no silent minute of retries), and a start or stop while NATS does not answer is never
 * held up by the dialling.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { startAgent } from '../../../agent/index.js';
import { startGatewayProcess } from '../../../gateway/index.js';
import { startControlService } from '../../../services/site/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { freePort } from '../../support/servers/index.js';
import { captureLogger, spawnMeridian, useSecureSite, type SecureSite } from '../../support/secure-site.js';
import { agentAuthorization } from '../../support/agent-process.js';

let noJetStream: SecureSite;
/** A TCP port that accepts connections and never says a word: a NATS that hangs. */
let silentUrl: string;

before(async () => {
  noJetStream = await useSecureSite({ jetstream: false, bootstrap: false });
  const sockets = new Set<Socket>();
  const silent: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  silentUrl = `nats://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  fileScope.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
});

/** Waits until the server holds no client connection whose name matches `pattern` (a close takes the server a moment to see). */
async function assertNoConnection(site: SecureSite, pattern: RegExp): Promise<void> {
  await eventually(async () => {
    const connz = (await (await fetch(`${site.nats.monitorUrl}/connz`)).json()) as { connections?: { name?: string }[] };
    assert.deepEqual((connz.connections ?? []).map((c) => c.name ?? '').filter((n) => pattern.test(n)), []);
  }, { timeoutMs: 3_000 });
}

/** Resolves when something can listen on `port` again (nothing of ours holds it). */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  probe.listen(port, '127.0.0.1');
  await once(probe, 'listening');
  await new Promise((resolve) => probe.close(resolve));
}

const disabled = (url: string) => (error: unknown): boolean =>
  isMeridianError(error, 'MERIDIAN_ERR_JETSTREAM_DISABLED') && error.message.startsWith(`JetStream is not enabled on ${url}`);

describe('a NATS server without JetStream', () => {
  it('fails an agent start at once, naming the server, with nothing left running', async () => {
    const apiPort = await freePort();
    const started = Date.now();
    await assert.rejects(startAgent(noJetStream.agentConfig('agent-nojs', { api: { host: '127.0.0.1', port: apiPort } }), captureLogger().log), disabled(noJetStream.nats.url));
    const ms = Date.now() - started;
    assert.ok(ms < 5_000, `failed after ${ms} ms`);
    await assertPortFree(apiPort);
    await assertNoConnection(noJetStream, /agent-nojs/);
  });

  it('fails `meridian agent run` with exit 1 and one line naming the server (no stack trace)', async () => {
    const config = noJetStream.writeJson('agent-cli.json', noJetStream.agentConfig('agent-cli'));
    const started = Date.now();
    const cli = spawnMeridian(['agent', 'run', '--config', config]);
    const { code } = await cli.exited;
    assert.equal(code, 1, cli.output());
    assert.ok(Date.now() - started < 10_000, `exited after ${Date.now() - started} ms`);
    assert.match(cli.output(), new RegExp(`meridian: MERIDIAN_ERR_JETSTREAM_DISABLED: JetStream is not enabled on ${noJetStream.nats.url}`));
    assert.doesNotMatch(cli.output(), /\n\s+at /);
  });

  it('fails a gateway start and a control service start the same way', async () => {
    const started = Date.now();
    await assert.rejects(startGatewayProcess(noJetStream.gatewayConfig('gw-nojs'), captureLogger().log), disabled(noJetStream.nats.url));
    await assert.rejects(startControlService({ pki: noJetStream.pki, site: noJetStream.site, natsUrl: noJetStream.nats.url, log: captureLogger().log }), disabled(noJetStream.nats.url));
    assert.ok(Date.now() - started < 5_000, `failed after ${Date.now() - started} ms`);
    await assertNoConnection(noJetStream, /gw-nojs|control/);
  });
});

describe('a NATS that does not answer', () => {
  it('holds an agent start no longer than its abort signal: aborted within a second, nothing left running', async () => {
    const apiPort = await freePort();
    const abort = new AbortController();
    const capture = captureLogger();
    const start = startAgent(noJetStream.agentConfig('agent-abort', { api: { host: '127.0.0.1', port: apiPort }, nats: { ...noJetStream.agentConfig('agent-abort').nats, url: silentUrl } }), capture.log, {
      signal: abort.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const abortedAt = Date.now();
    abort.abort();
    await assert.rejects(start, (error: unknown) => isMeridianError(error, 'MERIDIAN_ERR_ABORTED'));
    const ms = Date.now() - abortedAt;
    process.stderr.write(`# start aborted ${ms} ms after the signal\n`);
    assert.ok(ms < 2_000, `aborted after ${ms} ms`);
    await assertPortFree(apiPort);
  });

  it('lets `meridian agent run` stop on SIGTERM at once, also while its start still waits for NATS', async () => {
    const refused = `nats://127.0.0.1:${await freePort()}`;
    for (const url of [refused, silentUrl]) {
      const base = noJetStream.agentConfig('agent-sigterm');
      const apiPort = await freePort();
      const config = noJetStream.writeJson('agent-sigterm.json', { ...base, api: { host: '127.0.0.1', port: apiPort }, nats: { ...base.nats, url } });
      const cli = spawnMeridian(['agent', 'run', '--config', config]);
      // The API serves (from the snapshot) while NATS is dialled: refused, the start completes;
      // silent, it is still waiting for NATS's first answer.
      const apiTokenFile = join(base.dataDir, 'api-token');
      await eventually(async () => assert.equal((await fetch(`http://127.0.0.1:${apiPort}/v1/instances`, { headers: agentAuthorization({ apiTokenFile }) })).status, 200));
      const signalledAt = Date.now();
      cli.child.kill('SIGTERM');
      const exit = await cli.exited;
      const ms = Date.now() - signalledAt;
      process.stderr.write(`# SIGTERM to exit: ${ms} ms (${url === refused ? 'refused' : 'silent'} NATS)\n`);
      assert.ok(ms < 5_000, `exited ${ms} ms after SIGTERM:\n${cli.output()}`);
      assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `${JSON.stringify(exit)}\n${cli.output()}`);
      await assertPortFree(apiPort);
    }
  });
});
