import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayDialer } from '../../../shared/mesh/index.js';
import { checkLocalInstance, startGateway, staticResolver, type GatewayResolver } from '../../../gateway/index.js';
import { isMeridianError } from '../../../shared/errors/index.js';
import { instance, recordingLogger } from '../../support/mesh/index.js';
import { TestTrustDomain } from '../../support/pki/index.js';

const pki = new TestTrustDomain();
const TARGET = { site: 'b', service: 'pay', instanceId: 'pay-1' } as const;

describe('delivery rules for streams from other sites', () => {
  const cases: [string, Parameters<typeof checkLocalInstance>[1], ReturnType<typeof checkLocalInstance>][] = [
    ['an exported, passing instance with a mesh port', instance({ ...TARGET, address: '10.0.0.7', meshPort: 15001 }), { address: '10.0.0.7', meshPort: 15001 }],
    ['an unknown instance', undefined, { refused: 'unknown instance pay.b/pay-1', status: 404 }],
    ['an instance of another site', instance({ ...TARGET, site: 'c', meshPort: 1 }), { refused: 'unknown instance pay.b/pay-1', status: 404 }],
    ['an instance of another service', instance({ ...TARGET, service: 'orders', meshPort: 1 }), { refused: 'instance pay-1 is not an instance of service pay', status: 404 }],
    ['an instance not exported', instance({ ...TARGET, exported: false, meshPort: 1 }), { refused: 'service pay of site b is not exported to other sites', status: 403 }],
    ['an instance whose export flag is absent (default: not exported)', { ...TARGET, address: '127.0.0.1', health: 'passing', meshPort: 1 }, { refused: 'service pay of site b is not exported to other sites', status: 403 }],
    ['an instance without a mesh port', instance({ ...TARGET }), { refused: 'instance pay.b/pay-1 has no mesh port (its agent runs no inbound listener)', status: 503 }],
    ['an instance not passing', instance({ ...TARGET, health: 'unknown', meshPort: 1 }), { refused: 'instance pay.b/pay-1 is not passing its health checks (unknown)', status: 503 }],
  ];
  for (const [name, entry, expected] of cases) {
    it(name, () => assert.deepEqual(checkLocalInstance(TARGET, entry), expected));
  }
});

describe('gateway and dialer options fail fast, naming the field', () => {
  const resolver: GatewayResolver = staticResolver({ instances: [], gateways: {} });
  const gatewayB = pki.identity('b', 'gateway', 'gw-b');
  const logger = recordingLogger();

  it('refuses a credential that is not a gateway identity', async () => {
    await assert.rejects(startGateway({ identity: pki.identity('b', 'agent', 'node-1'), resolver, logger }), (e: unknown) =>
      isMeridianError(e, 'MERIDIAN_ERR_BAD_ARGUMENT') && /startGateway: identity: must be a gateway identity \(got spiffe:\/\/acme\.internal\/site\/b\/agent\/node-1\)/.test(e.message));
  });

  it('refuses out-of-range limits and a resolver without its methods', async () => {
    await assert.rejects(startGateway({ identity: gatewayB, resolver, logger, maxConcurrentStreams: 0 }), /startGateway: maxConcurrentStreams must be an integer from 1 to 100000 \(got 0\)/);
    await assert.rejects(startGateway({ identity: gatewayB, resolver, logger, backoff: { initialMs: 500, maxMs: 100 } }), /startGateway: backoff\.maxMs must be an integer from 500/);
    await assert.rejects(startGateway({ identity: gatewayB, resolver: {} as GatewayResolver, logger }), /startGateway: resolver must implement localInstance\(target\) and gatewayFor\(site\)/);
  });

  it('reports a port already in use', async () => {
    const first = await startGateway({ identity: gatewayB, resolver, logger });
    try {
      await assert.rejects(startGateway({ identity: gatewayB, resolver, logger, port: first.address.port }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });

  it('refuses a dialer with an invalid expected site', () => {
    const agent = pki.identity('b', 'agent', 'n');
    assert.throws(() => new GatewayDialer({ gateway: { address: '127.0.0.1', port: 1 }, identity: () => agent, expectSite: 'B!' }), /GatewayDialer: expectSite "B!" is invalid/);
  });

  it('listens and dials on IPv6 loopback', async () => {
    const gateway = await startGateway({ identity: gatewayB, resolver, logger, host: '::1' });
    const agent = pki.identity('b', 'agent', 'node-1');
    const dialer = new GatewayDialer({ gateway: gateway.address, identity: () => agent, expectSite: 'b' });
    try {
      assert.equal(gateway.address.address, '::1');
      // An answer (own-site targets are refused) proves the TLS session and the CONNECT round trip.
      await assert.rejects(dialer.dial({ site: 'b', service: 'x', instanceId: 'x-1' }), (e: unknown) => isMeridianError(e, 'MERIDIAN_ERR_FORBIDDEN'));
    } finally {
      await dialer.close();
      await gateway.close();
    }
  });
});
