/**
 * A configured port another process holds: the start fails with MERIDIAN_ERR_PORT_IN_USE naming
 * the config field and the port (not a Node stack trace), and nothing it had started is left
 * running: listeners closed, NATS connection closed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { before, describe, it } from 'node:test';
import { startAgent } from '../../../agent/index.js';
import { startGatewayProcess } from '../../../gateway/index.js';
import { startControlService } from '../../../services/site/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { freePort } from '../../support/servers/index.js';
import { captureLogger, spawnMeridian, useSecureSite, type SecureSite } from '../../support/secure-site.js';

let site: SecureSite;

before(async () => {
  site = await useSecureSite();
});

/** Listens on a free loopback port, as another process would; released at the end of the file. */
async function holdPort(): Promise<number> {
  const holder: Server = createServer((socket) => socket.destroy());
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  fileScope.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as AddressInfo).port;
}

async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  probe.listen(port, '127.0.0.1');
  await once(probe, 'listening');
  await new Promise((resolve) => probe.close(resolve));
}

/** Waits until the site's NATS holds no client connection whose name contains `name`. */
async function assertNoConnection(name: string): Promise<void> {
  await eventually(async () => {
    const connz = (await (await fetch(`${site.nats.monitorUrl}/connz`)).json()) as { connections?: { name?: string }[] };
    assert.deepEqual((connz.connections ?? []).map((c) => c.name ?? '').filter((n) => n.includes(name)), []);
  }, { timeoutMs: 3_000 });
}

const inUse = (field: string, port: number) => (error: unknown): boolean =>
  isMeridianError(error, 'MERIDIAN_ERR_PORT_IN_USE') && error.message === `${field}: port ${port} on 127.0.0.1 is already in use by another process (stop it, or configure another port)`;

describe('a port already in use', () => {
  it('/api/port: the agent start fails naming the field; its mesh listener and NATS connection are closed', async () => {
    const [taken, meshPort] = [await holdPort(), await freePort()];
    const config = site.agentConfig('api-taken', { api: { host: '127.0.0.1', port: taken }, mesh: { host: '127.0.0.1', inboundPort: meshPort, maxSessionAge: '30s' } });
    await assert.rejects(startAgent(config, captureLogger().log), inUse('/api/port', taken));
    await assertPortFree(meshPort);
    await assertNoConnection('meridian-agent-api-taken');
  });

  it('/mesh/inboundPort: the agent start fails naming the field; its API port and NATS connection are released', async () => {
    const [taken, apiPort] = [await holdPort(), await freePort()];
    const config = site.agentConfig('mesh-taken', { api: { host: '127.0.0.1', port: apiPort }, mesh: { host: '127.0.0.1', inboundPort: taken, maxSessionAge: '30s' } });
    await assert.rejects(startAgent(config, captureLogger().log), inUse('/mesh/inboundPort', taken));
    await assertPortFree(apiPort);
    await assertNoConnection('meridian-agent-mesh-taken');
  });

  it('/listen/port: the gateway start fails naming the field; its NATS connection is closed', async () => {
    const taken = await holdPort();
    const config = site.gatewayConfig('gw-taken', { listen: { host: '127.0.0.1', port: taken }, metrics: { host: '127.0.0.1', port: await freePort() } });
    await assert.rejects(startGatewayProcess(config, captureLogger().log), inUse('/listen/port', taken));
    await assertNoConnection('meridian-gateway-gw-taken');
  });

  it('/metrics/port: the gateway start fails naming the field; its tunnel port and NATS connection are released', async () => {
    const [taken, tunnelPort] = [await holdPort(), await freePort()];
    const config = site.gatewayConfig('gw-metrics', { listen: { host: '127.0.0.1', port: tunnelPort }, metrics: { host: '127.0.0.1', port: taken } });
    await assert.rejects(startGatewayProcess(config, captureLogger().log), inUse('/metrics/port', taken));
    await assertPortFree(tunnelPort);
    await assertNoConnection('meridian-gateway-gw-metrics');
  });

  it('/status/port: the control service start fails naming the field; nothing of it keeps reporting or connected', async () => {
    const taken = await holdPort();
    const capture = captureLogger();
    const started = startControlService({
      pki: site.pki,
      site: site.site,
      natsUrl: site.nats.url,
      heartbeatMs: 200,
      status: { intervalMs: 100, api: { host: '127.0.0.1', port: taken, tokens: ['port-in-use-status-token-0123'] } },
      log: capture.log,
    });
    await assert.rejects(started, inUse('/status/port', taken));
    await assertNoConnection('meridian-control-solo');
    const linesAfterFailure = capture.lines.length;
    // Several report intervals later, nothing it started has logged a failed report or anything else.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.deepEqual(capture.lines.slice(linesAfterFailure), []);
  });

  it('`meridian gateway run` prints one error line naming the field and exits 1', async () => {
    const taken = await holdPort();
    const config = site.writeJson('gw-cli.json', site.gatewayConfig('gw-cli', { listen: { host: '127.0.0.1', port: taken } }));
    const cli = spawnMeridian(['gateway', 'run', '--config', config]);
    const { code } = await cli.exited;
    assert.equal(code, 1, cli.output());
    assert.match(cli.output(), new RegExp(`meridian: MERIDIAN_ERR_PORT_IN_USE: /listen/port: port ${taken} on 127\\.0\\.0\\.1 is already in use`));
    assert.doesNotMatch(cli.output(), /\n\s+at /);
  });
});
