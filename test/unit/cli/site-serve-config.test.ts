import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../../cli/index.js';
import { siteCommands } from '../../../cli/site.js';
import { parseSiteConfig } from '../../../services/site/index.js';

/** Runs `meridian site ...` in-process and captures what it printed. */
async function site(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(siteCommands, ['site', ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('site serve configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-site-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fills the documented defaults', () => {
    const config = parseSiteConfig({ site: 'eu-k8s', nats: { url: 'nats://127.0.0.1:4222' }, status: { port: 8600 } }, 'test');
    assert.deepEqual(config, {
      site: 'eu-k8s',
      pkiDir: 'meridian-data/pki',
      nats: { url: 'nats://127.0.0.1:4222' },
      status: { host: '127.0.0.1', port: 8600, tokenFile: 'meridian-data/status-token', tls: false },
    });
  });

  it('natsServer: the nats-server files the control service keeps; every bad field named by its path', () => {
    const natsServer = { certFile: '/etc/nats/nats.crt', keyFile: '/etc/nats/nats.key', pidFile: '/run/nats.pid', caFile: '/etc/nats/ca.pem', certificateTtl: '12h' };
    assert.deepEqual(parseSiteConfig({ site: 'eu', nats: { url: 'tls://127.0.0.1:4222' }, natsServer }, 'test').natsServer, natsServer);
    assert.throws(
      () => parseSiteConfig({ site: 'eu', nats: { url: 'tls://127.0.0.1:4222' }, natsServer: { certFile: '', keyFile: 'k', certificateTtl: 'soon', extra: 1 } }, 'site.json'),
      (error: Error) => {
        for (const path of ['/natsServer/certFile', '/natsServer/pidFile', '/natsServer/certificateTtl', '/natsServer/extra']) assert.match(error.message, new RegExp(`${path}: `), path);
        return true;
      },
    );
  });

  it('takes certificate lifetimes as durations and names a bad one by its path', () => {
    const config = parseSiteConfig({ site: 'eu', nats: { url: 'nats://127.0.0.1:4222' }, certificates: { workloadTtl: '12h', roleTtl: '24h' } }, 'test');
    assert.deepEqual(config.certificates, { workloadTtl: '12h', roleTtl: '24h' });
    assert.throws(
      () => parseSiteConfig({ site: 'eu', nats: { url: 'nats://127.0.0.1:4222' }, certificates: { roleTtl: 'a day', other: 1 } }, 'site.json'),
      (error: Error & { code?: string }) => error.code === 'MERIDIAN_ERR_CONFIG_INVALID' && /\/certificates\/roleTtl: /.test(error.message) && /\/certificates\/other: /.test(error.message),
    );
  });

  it('reports every bad flag with its config path before starting anything', async () => {
    const result = await site(['serve', 'EU!', '--nats', 'http://x', '--platform', 'mars', '--status-port', '99999', '--dir', join(dir, 'missing')]);
    assert.equal(result.code, 1);
    assert.match(result.err, /MERIDIAN_ERR_CONFIG_INVALID: site serve flags: invalid configuration/);
    for (const path of ['/site', '/nats/url', '/platform', '/status/port']) assert.match(result.err, new RegExp(`${path}: `), path);
    assert.equal(result.out, '');
  });

  it('the join endpoint: defaults to 127.0.0.1, and bad join flags are reported with their path', async () => {
    const config = parseSiteConfig({ site: 'eu-k8s', nats: { url: 'nats://127.0.0.1:4222' }, join: { port: 8443, agentTtl: '12h' } }, 'test');
    assert.deepEqual(config.join, { host: '127.0.0.1', port: 8443, agentTtl: '12h' });
    const result = await site(['serve', 'eu', '--nats', 'nats://127.0.0.1:4222', '--join-port', '70000', '--join-host', '', '--dir', join(dir, 'missing')]);
    assert.equal(result.code, 1);
    for (const path of ['/join/port', '/join/host']) assert.match(result.err, new RegExp(`${path}: `), path);
  });

  it('reads a config file, names it in errors, and lets flags override it', async () => {
    const file = join(dir, 'site.json');
    writeFileSync(file, JSON.stringify({ site: 'onprem', nats: { url: 'nats://127.0.0.1:4222' }, status: { port: 'x' }, extra: 1 }));
    const bad = await site(['serve', '--config', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, new RegExp(`${file} with the site serve flags: invalid configuration`));
    assert.match(bad.err, /\/status\/port: /);
    assert.match(bad.err, /\/extra: /);
    writeFileSync(file, JSON.stringify({ site: 'onprem', nats: { url: 'nats://127.0.0.1:4222' }, pkiDir: join(dir, 'nowhere') }));
    // A valid config whose site has no CA in the PKI directory the flag chose: refused, naming both.
    const missing = await site(['serve', '--config', file, '--dir', join(dir, 'other')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, new RegExp(`site onprem has no CA in ${join(dir, 'other')}: run 'meridian ca site onprem' first`));
  });
});
