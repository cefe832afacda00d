/**
 * `meridian agent install` / `uninstall` under `--root`: the files of the install contract, their
 * modes, a unit `systemd-analyze verify` accepts, idempotent re-installs, refusals that change
 * nothing, and the host's own users and systemd left alone.
 */
import assert from 'node:assert/strict';
import { accessSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INSTALLED_AGENT, installedConfig, renderAgentUnit } from '../../../agent/install/index.js';
import { findInstalledBin } from '../../../agent/install/host.js';
import { MERIDIAN_BIN, runCliSync, type CliResult } from '../../support/cli.js';
import { useTempDir } from '../../support/harness.js';
import { runOnOverlaidHost, verifyUnit } from '../../support/systemd.js';

const work = useTempDir('meridian-install-');
const UNIT = 'etc/systemd/system/meridian-agent.service';
const CONFIG = 'etc/meridian/agent.json';

function meridian(...args: string[]): CliResult {
  return runCliSync(args, { cwd: work, timeoutMs: 20_000 });
}

/** An operator's agent.json for a VM of site east, written to `name`; returns its path. */
function operatorConfig(name: string, extra: Record<string, unknown> = {}): string {
  const config = { site: 'east', region: 'us-east', zone: 'us-east-1a', platform: 'vm', node: 'vm-1', nats: { url: 'tls://10.0.0.2:4222', trustDomain: 'acme.internal' }, ...extra };
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** Every path under `root` (sorted) with its mode: the whole footprint of an install. */
function footprint(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).sort().map((path) => `${path} ${(statSync(join(root, path)).mode & 0o777).toString(8)}`);
}

const install = (root: string, ...args: string[]): CliResult => meridian('agent', 'install', '--root', root, '--bin', MERIDIAN_BIN, ...args);

describe('meridian agent install --root', () => {
  it('writes the unit, the sysusers entry, the completed config and 0700 state dirs, and leaves the host alone', () => {
    const root = join(work, 'fresh');
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const result = install(root, '--config', operatorConfig('fresh.json'));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(footprint(root), [
      'etc 755',
      'etc/meridian 755',
      'etc/meridian/agent.json 644',
      'etc/systemd 755',
      'etc/systemd/system 755',
      'etc/systemd/system/meridian-agent.service 644',
      'usr 755',
      'usr/lib 755',
      'usr/lib/sysusers.d 755',
      'usr/lib/sysusers.d/meridian.conf 644',
      'var 755',
      'var/lib 755',
      'var/lib/meridian 700',
      'var/lib/meridian/agent 700',
      'var/lib/meridian/credentials 700',
    ]);
    assert.equal(readFileSync(join(root, UNIT), 'utf8'), renderAgentUnit({ exec: MERIDIAN_BIN, privilegedPort: false }));
    assert.equal(readFileSync(join(root, 'usr/lib/sysusers.d/meridian.conf'), 'utf8'), 'u meridian - "Meridian agent" /var/lib/meridian\n');
    assert.equal(readFileSync(join(root, CONFIG), 'utf8'), installedConfig(JSON.parse(readFileSync(join(work, 'fresh.json'), 'utf8')), 'fresh.json').text);
    assert.match(result.stdout, /the host's users and systemd were left alone/);
    assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
    assert.equal(existsSync('/etc/systemd/system/meridian-agent.service'), false);
  });

  it('renders a unit that systemd-analyze verify accepts without a warning, with and without CAP_NET_BIND_SERVICE', () => {
    for (const [name, extra] of [['plain', {}], ['low-port', { mesh: { inboundPort: 443 } }]] as const) {
      const root = join(work, `verify-${name}`);
      assert.equal(install(root, '--config', operatorConfig(`${name}.json`, extra)).code, 0);
      const unitFile = join(root, UNIT);
      assert.equal(readFileSync(unitFile, 'utf8').includes('AmbientCapabilities=CAP_NET_BIND_SERVICE\n'), name === 'low-port');
      assert.deepEqual(verifyUnit(unitFile), { code: 0, output: '' });
    }
    // The check above is worth something: verify does report a misspelt directive (and still exits 0).
    const typo = join(work, 'typo', 'meridian-agent.service');
    install(join(work, 'typo'), '--config', operatorConfig('typo.json'));
    copyFileSync(join(work, 'typo', UNIT), typo);
    writeFileSync(typo, readFileSync(typo, 'utf8').replace('ProtectClock=yes', 'ProtectClok=yes'));
    assert.match(verifyUnit(typo).output, /Unknown key 'ProtectClok' in section \[Service\]/);
  });

  it('re-installs idempotently, from the same file or from the installed config', () => {
    const root = join(work, 'again');
    const config = operatorConfig('again.json');
    assert.equal(install(root, '--config', config).code, 0);
    const before = footprint(root).map((line) => `${line} ${statSync(join(root, line.split(' ')[0] ?? '')).mtimeMs}`);
    for (const args of [['--config', config], []]) {
      const again = install(root, ...args);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^unchanged .*meridian-agent\.service$/m);
      assert.match(again.stdout, /^unchanged .*agent\.json$/m);
      assert.deepEqual(footprint(root).map((line) => `${line} ${statSync(join(root, line.split(' ')[0] ?? '')).mtimeMs}`), before);
    }
  });

  it('refuses to overwrite a changed agent.json without --force, changing nothing', () => {
    const root = join(work, 'changed');
    assert.equal(install(root, '--config', operatorConfig('first.json')).code, 0);
    const installed = readFileSync(join(root, CONFIG), 'utf8');
    const unit = readFileSync(join(root, UNIT), 'utf8');
    const second = operatorConfig('second.json', { node: 'vm-2', api: { port: 80 } });
    const refused = install(root, '--config', second);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `meridian: MERIDIAN_ERR_CONFLICT: ${join(root, CONFIG)} differs from what --config ${second} would install (edited since the last install?): nothing was changed; pass --force to overwrite it`,
    );
    assert.equal(readFileSync(join(root, CONFIG), 'utf8'), installed);
    assert.equal(readFileSync(join(root, UNIT), 'utf8'), unit);
    const forced = install(root, '--config', second, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(readFileSync(join(root, CONFIG), 'utf8'), /"node": "vm-2"/);
    assert.match(readFileSync(join(root, UNIT), 'utf8'), /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  });

  it('refuses a bad config, a relative --bin and a first install without --config, writing nothing', () => {
    const root = join(work, 'refused');
    const bad = operatorConfig('bad.json', { heartbeat: 'soon' });
    const invalid = install(root, '--config', bad);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, new RegExp(`^meridian: MERIDIAN_ERR_CONFIG_INVALID: ${bad}: invalid configuration: /heartbeat: `));
    const relative = meridian('agent', 'install', '--root', root, '--bin', 'bin/meridian', '--config', operatorConfig('ok.json'));
    assert.equal(relative.code, 2);
    assert.match(relative.stderr, /--bin bin\/meridian: must be an absolute path \(the unit's ExecStart\)/);
    const missing = install(root);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--config is required: .*etc\/meridian\/agent\.json is not installed yet/);
    assert.equal(existsSync(root), false);
  });
});

describe('the default ExecStart binary on a host', () => {
  it('is /usr/local/bin/meridian when npm put it there, else the meridian on PATH, else a clear error', () => {
    const usrLocal = ((): boolean => {
      try {
        accessSync(INSTALLED_AGENT.bin);
        return true;
      } catch {
        return false;
      }
    })();
    const dir = join(work, 'usr-bin');
    mkdirSync(dir);
    writeFileSync(join(dir, 'meridian'), '#!/bin/sh\n');
    chmodSync(join(dir, 'meridian'), 0o755);
    assert.equal(findInstalledBin(`relative:${dir}`), usrLocal ? INSTALLED_AGENT.bin : join(dir, 'meridian'));
    if (!usrLocal) assert.throws(() => findInstalledBin(work), /no executable meridian at \/usr\/local\/bin\/meridian or on PATH: pass --bin <absolute path of the installed meridian>/);
  });
});

describe('meridian agent install on a host (writable overlays on /etc, /usr/lib and /var; systemd hidden)', () => {
  it('creates the meridian system user once, gives it the state dirs, reloads no systemd that is not running, and uninstall keeps the user', () => {
    const dir = join(work, 'host');
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const onHost = (...args: string[]): ReturnType<typeof runOnOverlaidHost> => runOnOverlaidHost({ dir, paths: ['/etc', '/usr/lib', '/var'], command: [MERIDIAN_BIN, ...args] });
    const config = operatorConfig('host.json');
    const first = onHost('agent', 'install', '--config', config, '--bin', MERIDIAN_BIN);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^created system user meridian$/m);
    assert.match(first.stdout, /^systemd is not running here: no daemon-reload$/m);
    const entry = readFileSync(first.upper('/etc/passwd'), 'utf8').split('\n').find((line) => line.startsWith('meridian:'));
    const [, , uid, gid, comment, home, shell] = entry?.split(':') ?? assert.fail('no meridian user');
    assert.deepEqual([comment, home, shell], ['Meridian agent', '/var/lib/meridian', '/usr/sbin/nologin']);
    assert.ok(Number(uid) < 1000, `a system uid, not ${uid}`);
    for (const state of ['var/lib/meridian', 'var/lib/meridian/agent', 'var/lib/meridian/credentials']) {
      const stat = statSync(first.upper(`/${state}`));
      assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [Number(uid), Number(gid), 0o700], state);
    }
    const again = onHost('agent', 'install');
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /created system user/);
    assert.match(again.stdout, /^unchanged \/etc\/systemd\/system\/meridian-agent\.service$/m);
    const removed = onHost('agent', 'uninstall');
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed \/etc\/systemd\/system\/meridian-agent\.service$/m);
    assert.match(removed.stdout, /^kept the system user meridian \(userdel meridian removes it\)$/m);
    // The host itself: untouched.
    assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
    assert.equal(existsSync('/etc/meridian'), false);
  });
});

describe('meridian agent install --no-user on a host', () => {
  it('leaves the user to systemd-sysusers and says so', () => {
    const result = runOnOverlaidHost({ dir: join(work, 'no-user'), paths: ['/etc', '/usr/lib', '/var'], command: [MERIDIAN_BIN, 'agent', 'install', '--no-user', '--bin', MERIDIAN_BIN, '--config', operatorConfig('no-user.json')] });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^--no-user: no user meridian yet; systemd-sysusers \(run at boot, or by hand\) creates it from \/usr\/lib\/sysusers\.d\/meridian\.conf$/m);
    assert.equal(existsSync(result.upper('/etc/passwd')), false);
    assert.equal(readFileSync(result.upper('/usr/lib/sysusers.d/meridian.conf'), 'utf8'), 'u meridian - "Meridian agent" /var/lib/meridian\n');
  });
});

describe('meridian agent uninstall --root', () => {
  it('removes the unit and the sysusers entry and keeps config and state; --purge removes them too', () => {
    const root = join(work, 'gone');
    assert.equal(install(root, '--config', operatorConfig('gone.json')).code, 0);
    writeFileSync(join(root, 'var/lib/meridian/credentials/agent.key'), 'key', { mode: 0o600 });
    const kept = meridian('agent', 'uninstall', '--root', root);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /kept .*etc\/meridian \(config\) and .*var\/lib\/meridian \(credentials, snapshot\): --purge removes them/);
    assert.equal(existsSync(join(root, UNIT)), false);
    assert.equal(existsSync(join(root, 'usr/lib/sysusers.d/meridian.conf')), false);
    assert.equal(readFileSync(join(root, 'var/lib/meridian/credentials/agent.key'), 'utf8'), 'key');
    assert.ok(existsSync(join(root, CONFIG)));
    const purged = meridian('agent', 'uninstall', '--root', root, '--purge');
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(existsSync(join(root, 'etc/meridian')), false);
    assert.equal(existsSync(join(root, 'var/lib/meridian')), false);
  });
});
