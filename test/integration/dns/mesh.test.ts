import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { LookupFunction } from 'node:net';
import { before, describe, it } from 'node:test';
import { startAgent, type AgentConfig, type RunningAgent } from '../../../agent/index.js';
import { startExampleHttpService } from '../../../dev/examples/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { eventually, fileScope } from '../../support/harness.js';
import { ownBundleFile } from '../../support/mesh/agents.js';
import { agentConfig, quietLogger, startFederationMesh, writePasswordFile, type FederationMesh } from '../../support/mesh/index.js';
import { freePort } from '../../support/servers/index.js';
import { dig } from './support.js';

const DNS = { host: '127.0.0.1', ttl: '2s', maxQueriesPerSecond: 2000, maxTcpConnections: 16, tcpTimeout: '2s' };
let mesh: FederationMesh;
let east: RunningAgent;
let west: RunningAgent;
let dnsPort: number;
let outboundPort: number;
let paymentsPort: number;

/** An east agent with a data plane and the `dns` section, in this process. */
function eastConfig(node: string, port: number): AgentConfig {
  const base = agentConfig(mesh.fed, { site: 'east', node, passwordFile: writePasswordFile(mesh.fed, 'east', join(mesh.dir, `${node}.password`)), dataDir: join(mesh.dir, node) });
  return {
    ...base,
    nats: { ...base.nats, bundleFile: ownBundleFile(mesh.fed, join(mesh.dir, `${node}-bundle.pem`)) },
    mesh: { host: '127.0.0.1', inboundPort: 0, maxSessionAge: '500ms' },
    dns: { ...DNS, port },
  };
}

function resolver(): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${dnsPort}`]);
  return r;
}

/** Resolves host names with the agent's DNS (as a system resolver pointed at it would). */
const meshLookup: LookupFunction = (hostname, options, callback) => {
  resolver()
    .resolve4(hostname)
    .then(
      (addresses) => {
        const address = addresses[0] ?? '';
        if (options.all === true) callback(null, [{ address, family: 4 }]);
        else callback(null, address, 4);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
};

function fetchThroughMesh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { lookup: meshLookup, timeout: 10_000 }, (res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

before(async () => {
  mesh = await startFederationMesh(['east', 'west']);
  dnsPort = await freePort();
  outboundPort = await freePort();
  east = await startAgent(eastConfig('east-1', dnsPort), quietLogger('agent:east-1'));
  fileScope.after(() => east.stop());
  west = await mesh.agent('west', 'west-1');
  const payments = await startExampleHttpService({ service: 'payments', site: 'west' });
  fileScope.after(() => payments.close());
  paymentsPort = payments.port;
  await west.registrar.register({ service: 'payments', ports: { http: payments.port }, export: true }, { kind: 'api' });
  const frontend = await startExampleHttpService({ service: 'frontend', site: 'east' });
  fileScope.after(() => frontend.close());
  await east.registrar.register({ service: 'frontend', ports: { http: frontend.port }, outbound: { http: outboundPort } }, { kind: 'api' });
  await eventually(() => assert.ok(east.view.query({ service: 'payments', site: 'west' }).some((e) => e.usable)), { timeoutMs: 15_000 });
  await eventually(() => assert.equal(east.dataPlane?.outbound().get('frontend')?.httpPort, outboundPort), { timeoutMs: 15_000 });
});

describe('agent DNS in a real mesh', () => {
  it('http://payments.mesh:<outbound port>/ resolved by the agent DNS reaches payments in the other site, no Host set by hand', async () => {
    assert.deepEqual(await resolver().resolve4('payments.mesh'), ['127.0.0.1']);
    const response = await fetchThroughMesh(`http://payments.mesh:${outboundPort}/`);
    assert.equal(response.status, 200, response.body);
    assert.deepEqual(JSON.parse(response.body), { service: 'payments', site: 'west', caller: 'spiffe://acme.internal/site/east/svc/frontend', path: '/' });
  });

  it('payments.service.west.consul: A and SRV of the west instance; payments.service.consul (east, none) is NXDOMAIN', async () => {
    assert.deepEqual(await resolver().resolve4('payments.service.west.consul'), ['127.0.0.1']);
    assert.deepEqual(await resolver().resolveSrv('payments.service.west.consul'), [{ name: '7f000001.addr.west.consul', port: paymentsPort, priority: 1, weight: 100 }]);
    assert.equal((await dig(dnsPort, ['payments.service.consul'])).status, 'NXDOMAIN');
    assert.equal((await dig(dnsPort, ['+tcp', 'frontend.service.consul'])).answers.length, 1);
  });

  it('a deregistered service leaves DNS: NXDOMAIN once the view follows', async () => {
    const temp = await west.registrar.register({ service: 'ephemeral', ports: { http: paymentsPort } }, { kind: 'api' });
    await eventually(async () => assert.deepEqual(await resolver().resolve4('ephemeral.service.west.consul'), ['127.0.0.1']), { timeoutMs: 15_000 });
    await west.registrar.deregister(temp.instanceId);
    await eventually(async () => assert.equal((await dig(dnsPort, ['ephemeral.service.west.consul'])).status, 'NXDOMAIN'), { timeoutMs: 15_000 });
  });

  it('a DNS port already taken fails the start naming /dns/port, and the running agent answers on', async () => {
    const error = await startAgent(eastConfig('east-2', dnsPort), quietLogger('agent:east-2')).then(
      () => assert.fail('the start should fail'),
      (e: unknown) => e,
    );
    assert.ok(isMeridianError(error), String(error));
    assert.equal(error.code, 'MERIDIAN_ERR_PORT_IN_USE');
    assert.match(error.message, /^\/dns\/port: /);
    assert.deepEqual(await resolver().resolve4('payments.mesh'), ['127.0.0.1']);
  });
});
