import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startGateway, staticResolver, type Gateway } from '../../../gateway/index.js';
import { gatewayStatusCollector } from '../../../gateway/status-report.js';
import { FederatedView, ensureSiteBucket } from '../../../shared/catalog/index.js';
import { startStatusPublisher, type StatusPublisher } from '../../../shared/status/index.js';
import { jsonLogger } from '../../../shared/telemetry/index.js';
import { startFederationStatus, type FederationStatusService } from '../../../services/status/index.js';
import { eventually, fileScope, useNatsServer } from '../../support/harness.js';
import { TestTrustDomain } from '../../support/pki/index.js';
import { freePort } from '../../support/servers/index.js';
import type { NatsServerHandle } from '../../support/servers/index.js';
import { runCli } from '../../support/cli.js';

/*
 * `meridian status` exit codes, each from the built CLI: 0 healthy, 1 unhealthy, 2 usage, 3 could
 * not ask. The federation is one real site (site "a"): a standalone nats-server, the control
 * service's status side (board, publisher, API) and a real gateway reporting into it.
 */

const TOKEN = 'exit-code-token-0123456789';
const SITE = 'a';
const INTERVAL_MS = 200;
const quiet = jsonLogger('test', () => undefined);

let control: FederationStatusService;
let nats: NatsServerHandle;
let nc: NatsConnection;
let url: string;
let dir: string;
let tokenFile: string;

const cli = (args: readonly string[], env: Record<string, string> = {}) => runCli(['status', ...args], { MERIDIAN_STATUS_URL: '', MERIDIAN_STATUS_TOKEN: '', ...env });

async function listening(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fileScope.after(() => new Promise((resolve) => server.close(() => resolve())));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

/** A real gateway of site a, reporting its status record like a gateway process does. */
async function reportingGateway(): Promise<{ gateway: Gateway; publisher: StatusPublisher }> {
  const gateway = await startGateway({ identity: new TestTrustDomain().identity('a', 'gateway', 'gw-a'), resolver: staticResolver({ instances: [], gateways: {} }), logger: quiet });
  fileScope.after(() => gateway.close());
  const publisher = startStatusPublisher({
    nc,
    site: SITE,
    intervalMs: INTERVAL_MS,
    collect: gatewayStatusCollector({ gateway, name: 'gw-a', region: 'region-a', platform: 'vm', intervalMs: INTERVAL_MS, certificate: () => undefined }),
  });
  fileScope.after(() => publisher.stop());
  return { gateway, publisher };
}

before(async () => {
  nats = await useNatsServer();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  fileScope.after(() => nc.drain());
  // Nothing writes to this site's catalog: a long staleness bound keeps it fresh once replayed.
  await ensureSiteBucket(nc, SITE);
  const view = new FederatedView({ sites: [SITE], staleAfterMs: 600_000 });
  view.connect(nc);
  fileScope.after(() => Promise.resolve(view.close()));
  await view.ready(10_000);
  control = await startFederationStatus({
    nc,
    site: SITE,
    region: 'region-a',
    platform: 'vm',
    view,
    certificates: () => [],
    intervalMs: INTERVAL_MS,
    api: { port: 0, access: { tokens: [TOKEN] } },
    version: 'test',
    log: quiet,
  });
  fileScope.after(() => control.stop());
  url = control.api?.url ?? assert.fail('no status API');
  dir = mkdtempSync(join(tmpdir(), 'meridian-status-cli-'));
  fileScope.after(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});

describe('meridian status: 0 healthy, 1 unhealthy', () => {
  it('exits 1 for a site with no east-west gateway, 0 once its gateway reports, 1 again when that gateway stops reporting', async () => {
    await eventually(() => assert.ok(control.board.entries().some((e) => e.record.kind === 'control')), { timeoutMs: 5_000 });
    const lonely = await cli(['--url', url, '--token-file', tokenFile]);
    assert.equal(lonely.code, 1, lonely.stderr);
    assert.match(lonely.stdout, /^federation UNHEALTHY/);
    assert.equal(lonely.stderr, 'meridian: federation unhealthy: site a has no east-west gateway\n');

    const { publisher } = await reportingGateway();
    await eventually(() => assert.ok(control.status().healthy, JSON.stringify(control.status().problems)), { timeoutMs: 5_000 });
    const healthy = await cli(['--url', url, '--token-file', tokenFile]);
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.match(healthy.stdout, /^federation HEALTHY \(answered by a/);
    assert.match(healthy.stdout, /^a\s+region-a\s+vm\s+yes\s+0\/0\s+1\/1$/m);
    assert.equal(healthy.stderr, '');

    await publisher.stop();
    await eventually(() => assert.equal(control.status().healthy, false), { timeoutMs: 5_000 });
    const silent = await cli(['--url', url, '--json'], { MERIDIAN_STATUS_TOKEN: TOKEN });
    assert.equal(silent.code, 1);
    assert.equal((JSON.parse(silent.stdout) as { healthy: boolean }).healthy, false);
    assert.match(silent.stderr, /^meridian: federation unhealthy: gateway gw-a of site a is not reporting \(last report \d+ s ago\)\n$/);
  });
});

describe('meridian status: 2 usage', () => {
  it('exits 2 without a URL, with an unknown flag, and with --ca-file but no --trust-domain, asking nothing', async () => {
    const cases: [readonly string[], RegExp][] = [
      [['--token-file', tokenFile], /^meridian: MERIDIAN_ERR_BAD_ARGUMENT: --url \(or MERIDIAN_STATUS_URL\) is required\nusage: meridian status --url/],
      [['--url', url, '--tokenfile', tokenFile], /^meridian: MERIDIAN_ERR_BAD_ARGUMENT: Unknown option '--tokenfile'/],
      [['--url', url.replace('http:', 'https:'), '--ca-file', join(dir, 'bundle.pem')], /^meridian: MERIDIAN_ERR_BAD_ARGUMENT: --trust-domain is required with --ca-file/],
    ];
    for (const [args, stderr] of cases) {
      const result = await cli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, stderr);
      assert.equal(result.stdout, '');
    }
  });
});

describe('meridian status: 3 could not ask', () => {
  it('exits 3 when the token file is missing, the token is refused, or there is no token', async () => {
    const missing = await cli(['--url', url, '--token-file', join(dir, 'no-such-token')]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /^meridian: MERIDIAN_ERR_FILE_IO: cannot read the status token file .*no-such-token: ENOENT/);
    const wrongFile = join(dir, 'wrong-token');
    writeFileSync(wrongFile, 'not-the-token-0123456789\n');
    for (const args of [['--token-file', wrongFile], []]) {
      const refused = await cli(['--url', url, ...args]);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /^meridian: MERIDIAN_ERR_UNAUTHORIZED: http:\/\/127\.0\.0\.1:\d+\/v1\/status answered 401/);
      assert.equal(refused.stdout, '');
    }
  });

  it('exits 3 when nothing listens, and when a CA bundle file is missing', async () => {
    const gone = await cli(['--url', `http://127.0.0.1:${await freePort()}`, '--token-file', tokenFile]);
    assert.equal(gone.code, 3, gone.stderr);
    assert.match(gone.stderr, /^meridian: MERIDIAN_ERR_UNAVAILABLE: cannot reach the status API at http:\/\/127\.0\.0\.1:\d+\/v1\/status: connect ECONNREFUSED/);
    const noBundle = await cli(['--url', `https://127.0.0.1:${await freePort()}`, '--token-file', tokenFile, '--ca-file', join(dir, 'no-bundle.pem'), '--trust-domain', 'acme.internal']);
    assert.equal(noBundle.code, 3, noBundle.stderr);
    assert.match(noBundle.stderr, /^meridian: MERIDIAN_ERR_FILE_IO: cannot read CA bundle .*no-bundle\.pem/);
  });

  it('exits 3 when the server answers 500, or 200 with something that is not a federation status', async () => {
    const broken = await listening(createHttpServer((_request, response) => response.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"MERIDIAN_ERR_INTERNAL"}')));
    const failed = await cli(['--url', broken, '--token-file', tokenFile]);
    assert.equal(failed.code, 3, failed.stderr);
    assert.match(failed.stderr, /^meridian: MERIDIAN_ERR_UNAVAILABLE: http:\/\/127\.0\.0\.1:\d+\/v1\/status answered 500/);
    const impostor = await listening(createHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')));
    const odd = await cli(['--url', impostor, '--token-file', tokenFile]);
    assert.equal(odd.code, 3, odd.stderr);
    assert.match(odd.stderr, /^meridian: MERIDIAN_ERR_UNAVAILABLE: http:\/\/127\.0\.0\.1:\d+\/v1\/status answered something that is not a federation status/);
    assert.equal(odd.stdout, '');
  });

  it('exits 3 when the server accepts the connection and never answers (5 s bound)', async () => {
    const sockets = new Set<Socket>();
    const mute = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    fileScope.after(() => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      mute.close(() => resolve());
    }));
    const address = mute.address();
    assert.ok(address !== null && typeof address === 'object');
    const started = Date.now();
    const silent = await cli(['--url', `http://127.0.0.1:${address.port}`, '--token-file', tokenFile]);
    assert.equal(silent.code, 3, silent.stderr);
    assert.match(silent.stderr, /^meridian: MERIDIAN_ERR_TIMEOUT: the status API at http:\/\/127\.0\.0\.1:\d+\/v1\/status did not answer within 5000 ms/);
    assert.ok(Date.now() - started < 15_000);
  });
});

describe('meridian status while NATS is stopped at the answering site', () => {
  it('the answering control service counts itself as reporting; its gateway is "not reporting", never "not running"', async () => {
    await reportingGateway();
    await eventually(() => assert.ok(control.status().healthy, JSON.stringify(control.status().problems)), { timeoutMs: 5_000 });
    await nats.terminate();
    try {
      const status = await eventually(() => {
        const s = control.status();
        assert.ok(s.problems.some((p) => p.component === 'gateway'), JSON.stringify(s.problems));
        return s;
      }, { timeoutMs: 5_000 });
      // Nothing was written for 3 intervals, its own report included: it still answers for its site.
      assert.deepEqual(status.sites.map((s) => [s.site, s.reachable, s.lastReportAgeMs]), [['a', true, 0]]);
      assert.deepEqual(status.problems.map((p) => [p.severity, p.message.replace(/\d+ s ago/, 'N s ago')]), [['error', 'gateway gw-a of site a is not reporting (last report N s ago)']]);
      const cli = await runCli(['status', '--url', url, '--token-file', tokenFile]);
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stdout, /^a\s+region-a\s+vm\s+yes\s+0\/0\s+0\/1$/m);
    } finally {
      await nats.restart();
    }
    await eventually(() => assert.ok(control.status().healthy, JSON.stringify(control.status().problems)), { timeoutMs: 20_000 });
  });
});
