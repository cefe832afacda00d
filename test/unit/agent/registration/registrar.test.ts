import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registrar } from '../../../../agent/registration/registrar.js';
import { serviceAllowed } from '../../../../agent/registration/policy.js';
import { freePort } from '../../../support/servers/index.js';

const NODE = { site: 'east', region: 'region-east', zone: 'east-a', platform: 'vm' as const, node: 'east-1' };
let app: Server;
let open: number;
let closed: number;
let registrar: Registrar;

before(async () => {
  app = createServer((socket) => socket.end()).listen(0, '127.0.0.1');
  await new Promise((resolve) => app.once('listening', resolve));
  open = (app.address() as AddressInfo).port;
  closed = await freePort();
  registrar = new Registrar({ node: NODE, heartbeatMs: 1000, policy: { allowedServices: ['payments', 'orders-*', 'cache'] } });
});
after(async () => {
  await registrar.stop({ deregister: true });
  app.close();
});

describe('registrar', () => {
  it('gives an instance without a check a TCP check on its first port, decided before it is written', async () => {
    const alive = await registrar.register({ service: 'payments', ports: { http: open, admin: closed } }, { kind: 'api' });
    assert.equal(alive.health, 'passing');
    const dead = await registrar.register({ service: 'orders-eu', ports: { grpc: closed, http: open } }, { kind: 'api' });
    assert.equal(dead.health, 'critical', 'its first port (grpc) has nothing listening');
    const checks = Object.fromEntries(registrar.list().map((r) => [r.instance.service, r.definition.check]));
    assert.deepEqual(checks, { payments: { type: 'tcp', port: 'http' }, 'orders-eu': { type: 'tcp', port: 'grpc' } });
    await assert.rejects(registrar.passTtl(alive.instanceId), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: 'passTtl: the check is of type tcp; only a check of type ttl can be passed' });
  });

  it('keeps an explicit check as given: a ttl check starts unknown until its first pass', async () => {
    const instance = await registrar.register({ service: 'cache', ports: { redis: closed }, check: { type: 'ttl', ttl: '5s' } }, { kind: 'api' });
    assert.equal(instance.health, 'unknown');
    await registrar.passTtl(instance.instanceId);
    assert.equal(registrar.list().find((r) => r.instance.service === 'cache')?.instance.health, 'passing');
  });

  it('refuses a service outside allowedServices, whatever the source, and changes nothing', async () => {
    const before = registrar.list().map((r) => r.instance.instanceId);
    await assert.rejects(registrar.register({ service: 'ledger', ports: { http: open } }, { kind: 'file', path: '/etc/meridian/services.d/ledger.yaml' }), {
      code: 'MERIDIAN_ERR_FORBIDDEN',
      message: 'service "ledger" may not be registered on node east-1: the agent config\'s allowedServices is payments, orders-*, cache',
    });
    assert.deepEqual(registrar.list().map((r) => r.instance.instanceId), before);
  });

  it('deregisters only for the source that registered', async () => {
    await registrar.register({ service: 'payments', instanceId: 'pay-file', ports: { http: open } }, { kind: 'file', path: 'services.d/pay.yaml' });
    await assert.rejects(registrar.deregister('pay-file', { kind: 'api' }), { code: 'MERIDIAN_ERR_CONFLICT' });
    assert.equal(await registrar.deregister('pay-file'), true, 'the definitions watcher (no requester) still removes it');
    assert.equal(await registrar.deregister('pay-file', { kind: 'api' }), false);
  });
});

describe('allowedServices patterns', () => {
  it('matches names exactly and * as any run of name characters', () => {
    assert.equal(serviceAllowed(['payments'], 'payments'), true);
    assert.equal(serviceAllowed(['payments'], 'payments-v2'), false);
    assert.equal(serviceAllowed(['web-*'], 'web-frontend'), true);
    assert.equal(serviceAllowed(['web-*'], 'web'), false);
    assert.equal(serviceAllowed(['*-api'], 'orders-api'), true);
    assert.equal(serviceAllowed(['*'], 'anything'), true);
    assert.equal(serviceAllowed([], 'payments'), false);
  });
});
