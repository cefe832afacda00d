import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentConfigSchema } from '../../../../agent/config.js';
import { parseConfig } from '../../../../shared/config/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';

const BASE = {
  site: 'east',
  region: 'eu',
  zone: 'eu-1a',
  platform: 'vm',
  node: 'east-1',
  nats: { url: 'tls://127.0.0.1:4222', passwordFile: 'p', keyFile: 'k', certFile: 'c', bundleFile: 'b', trustDomain: 'acme.internal' },
};

describe('agent config: the dns section', () => {
  it('is opt-in: absent, no DNS; present and empty, 127.0.0.1:8600, TTL 5s, 2000 queries/s, 64 TCP connections, 5s TCP timeout', () => {
    assert.equal(parseConfig(AgentConfigSchema, BASE, 'agent.json').dns, undefined);
    assert.deepEqual(parseConfig(AgentConfigSchema, { ...BASE, dns: {} }, 'agent.json').dns, {
      host: '127.0.0.1',
      port: 8600,
      ttl: '5s',
      maxQueriesPerSecond: 2000,
      maxTcpConnections: 64,
      tcpTimeout: '5s',
    });
  });

  it('a bad value is refused naming its path', () => {
    for (const [dns, path] of [
      [{ port: 70000 }, '/dns/port'],
      [{ ttl: 'soon' }, '/dns/ttl'],
      [{ maxQueriesPerSecond: 0 }, '/dns/maxQueriesPerSecond'],
      [{ recursors: ['8.8.8.8'] }, '/dns'],
    ] as const) {
      assert.throws(
        () => parseConfig(AgentConfigSchema, { ...BASE, dns }, 'agent.json'),
        (error: unknown) => isMeridianError(error) && error.code === 'MERIDIAN_ERR_CONFIG_INVALID' && error.message.includes(path),
        JSON.stringify(dns),
      );
    }
  });
});
