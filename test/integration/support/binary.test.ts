import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binaryEnvVar, findBinary, startNatsServer, startRedisServer } from '../../support/servers/index.js';

const DIRS = '/usr/sbin, /usr/local/sbin, /usr/bin, /usr/local/bin';

test('override variables are named after the binary', () => {
  assert.equal(binaryEnvVar('nats-server'), 'MERIDIAN_NATS_SERVER');
  assert.equal(binaryEnvVar('redis-server'), 'MERIDIAN_REDIS_SERVER');
});

test('nats-server is found in the system dirs even with an empty PATH', () => {
  const path = findBinary('nats-server', { env: { PATH: '' } });
  assert.match(path, /^\/usr\/(local\/)?s?bin\/nats-server$/);
});

test('an override pointing at an executable wins over PATH', () => {
  const real = findBinary('redis-server');
  assert.equal(findBinary('redis-server', { env: { PATH: '', MERIDIAN_REDIS_SERVER: real } }), real);
});

test('an override pointing nowhere names the binary, the path and what to install', () => {
  assert.throws(() => findBinary('nats-server', { env: { MERIDIAN_NATS_SERVER: '/nonexistent/nats-server' } }), {
    name: 'MeridianError',
    code: 'MERIDIAN_ERR_BINARY_MISSING',
    message:
      'nats-server not found at /nonexistent/nats-server (from MERIDIAN_NATS_SERVER); ' +
      'install it with: apt-get install nats-server (run apt-get update first on a fresh machine), ' +
      'or point MERIDIAN_NATS_SERVER at the binary',
  });
});

test('a binary on neither PATH nor the system dirs is reported with the apt-get package to install', () => {
  assert.throws(() => findBinary('redis-server-missing', { env: { PATH: '' } }), {
    code: 'MERIDIAN_ERR_BINARY_MISSING',
    message:
      `redis-server-missing not found on PATH or in ${DIRS}; ` +
      'install it with: apt-get install redis-server-missing (run apt-get update first on a fresh machine), ' +
      'or set MERIDIAN_REDIS_SERVER_MISSING to its path',
  });
});

test('the launchers reject with that error when the binary is missing', async (t) => {
  for (const variable of ['MERIDIAN_NATS_SERVER', 'MERIDIAN_REDIS_SERVER']) {
    const saved = process.env[variable];
    t.after(() => {
      if (saved === undefined) delete process.env[variable];
      else process.env[variable] = saved;
    });
    process.env[variable] = '/nonexistent/server';
  }
  await assert.rejects(startNatsServer(), { code: 'MERIDIAN_ERR_BINARY_MISSING', message: /^nats-server not found at \/nonexistent\/server/ });
  await assert.rejects(startRedisServer(), { code: 'MERIDIAN_ERR_BINARY_MISSING', message: /apt-get install redis-server/ });
});
