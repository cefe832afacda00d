import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServiceDefinition } from '../../../../shared/catalog/index.js';
import { blockingOf, MAX_WAIT_MS } from '../../../../agent/consul/blocking.js';
import { parseGoDuration } from '../../../../agent/consul/duration.js';
import { parseConsulRegistration, toDefinition } from '../../../../agent/consul/register.js';

describe('Consul registration mapping', () => {
  it('maps a full registration onto a valid Meridian definition', () => {
    const definition = toDefinition(parseConsulRegistration({
      ID: 'web-1',
      Name: 'web',
      Tags: ['v1', 'traefik.http.routers.web.rule=Host(`web`)'],
      Address: '10.0.0.5',
      Port: 8080,
      Meta: { team: 'web', 'meridian-protocol': 'grpc', 'meridian-export': 'true', 'meridian-version': '1.2.3' },
      Weights: { Passing: 5, Warning: 1 },
      Check: { GRPC: '10.0.0.5:8080/health.v1', Interval: '1m30s', Timeout: '2s', SuccessBeforePassing: 2, FailuresBeforeCritical: 4, DeregisterCriticalServiceAfter: '90m' },
    }));
    assert.deepEqual(definition, {
      service: 'web',
      instanceId: 'web-1',
      address: '10.0.0.5',
      ports: { grpc: 8080 },
      labels: { team: 'web', 'consul.tag.0': 'v1', 'consul.tag.1': 'traefik.http.routers.web.rule=Host(`web`)' },
      protocol: 'grpc',
      export: true,
      version: '1.2.3',
      weight: 5,
      check: { type: 'grpc', port: 8080, service: 'health.v1', interval: '90000ms', timeout: '2000ms', healthyThreshold: 2, unhealthyThreshold: 4 },
    });
    // Meridian's own validation accepts it as is.
    assert.equal(parseServiceDefinition(definition, 'test').service, 'web');
  });

  it('defaults ID to Name and Address to 127.0.0.1, and maps TCP and TTL checks', () => {
    assert.deepEqual(toDefinition(parseConsulRegistration({ Name: 'db', Port: 5432, Check: { TCP: 'localhost:5432', Interval: '5s' } })), {
      service: 'db', instanceId: 'db', address: '127.0.0.1', ports: { http: 5432 }, labels: {}, check: { type: 'tcp', port: 5432, interval: '5000ms' },
    });
    assert.deepEqual(toDefinition(parseConsulRegistration({ Name: 'db', Port: 5432, Checks: [{ TTL: '15s' }] }))['check'], { type: 'ttl', ttl: '15000ms' });
  });

  it('refuses another CheckID than the one Meridian names, https checks and non-GET methods', () => {
    const refuse = (body: unknown, message: string): void => assert.throws(() => toDefinition(parseConsulRegistration(body)), { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message });
    refuse({ Name: 'a', Port: 1, Check: { CheckID: 'mine', TTL: '1s' } }, 'Check.CheckID: Meridian runs one check per instance, named service:a');
    refuse({ Name: 'a', Port: 1, Check: { HTTP: 'https://127.0.0.1/', Interval: '1s' } }, 'Check.HTTP: only http:// checks are supported');
    refuse({ Name: 'a', Port: 1, Check: { HTTP: 'http://127.0.0.1/', Method: 'POST', Interval: '1s' } }, 'Check.Method: only GET is supported');
    refuse({ Name: 'a', Port: 1, Check: { TCP: '127.0.0.1', Interval: '1s' } }, 'Check.TCP: "127.0.0.1" must be host:port');
  });
});

describe('Consul durations and blocking parameters', () => {
  it('reads Go durations and refuses the rest', () => {
    assert.equal(parseGoDuration('1m30s', 'wait'), 90_000);
    assert.equal(parseGoDuration('120000ms', 'wait'), 120_000);
    assert.equal(parseGoDuration('1.5s', 'wait'), 1500);
    assert.throws(() => parseGoDuration('10', 'wait'), { message: 'wait: "10" is not a duration such as 10s, 1m30s or 250ms' });
    assert.throws(() => parseGoDuration('5s garbage', 'wait'), { code: 'MERIDIAN_ERR_BAD_ARGUMENT' });
  });

  it('defaults wait to 5 minutes, caps it at 10, and treats index=0 as not blocking', () => {
    assert.deepEqual(blockingOf({ index: '7' }), { index: 7, waitMs: 300_000 });
    assert.deepEqual(blockingOf({ index: '7', wait: '1h' }), { index: 7, waitMs: MAX_WAIT_MS });
    assert.equal(blockingOf({ index: '0', wait: '1s' }), undefined);
    assert.equal(blockingOf({}), undefined);
  });
});
