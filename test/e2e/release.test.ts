/**
 * The release artifact: `npm pack` (its prepack builds and drops stale output) ships the compiled roles and CLI only (and the Grafana dashboard JSON),
 * `npm install -g` of the tarball needs no compiler and runs no build, and the installed
 * `meridian` works without ever running npm ci or tsc, even when its dist/ is damaged.
 * The install takes the dependencies from npm's cache (--prefer-offline) or the registry.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { REPO_ROOT } from '../support/cli.js';
import { useTempDir } from '../support/harness.js';
import { verifyUnit } from '../support/systemd.js';

interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

const work = useTempDir('meridian-release-');
const prefix = join(work, 'prefix');
const installedPackage = join(prefix, 'lib/node_modules/meridian');
const meridianBin = join(prefix, 'bin/meridian');
// A VM's PATH: node, and no TypeScript or npm-installed tools of this checkout.
const vmEnv = { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: work };
let packed: Packed;

function run(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000, cwd: options.cwd ?? work, env: options.env ?? process.env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under `dir` with its modification time: proof that nothing was rebuilt. */
function mtimes(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort().map((path) => `${path} ${statSync(join(dir, path)).mtimeMs}`);
}

/** A compiled file whose source was deleted since the last build: prepack must not ship it. */
const orphan = `dist/cli/orphan-${process.pid}.js`;

before(() => {
  writeFileSync(join(REPO_ROOT, orphan), 'export {};\n');
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, timeoutMs: 180_000 });
  assert.equal(pack.code, 0, pack.stderr);
  [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [Packed];
  const install = run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)], { timeoutMs: 180_000 });
  assert.equal(install.code, 0, install.stderr);
});

describe('the release artifact', () => {
  it('holds the launcher, README, manifest and the compiled roles and CLI: no sources, tests, dev tools, maps or build config', () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(packed.filename, `meridian-${version}.tgz`);
    const paths = packed.files.map((f) => f.path);
    assert.deepEqual([...new Set(paths.map((p) => p.split('/').slice(0, p.startsWith('dist/') ? 2 : 1).join('/')))].sort(), [
      'README.md',
      'bin',
      'dist/agent',
      'dist/cli',
      'dist/gateway',
      'dist/services',
      'dist/shared',
      'package.json',
      'shared',
    ]);
    assert.ok(paths.includes('bin/meridian'));
    assert.ok(paths.includes('dist/cli/main.js'));
    assert.ok(paths.includes('dist/services/status/dashboard/app.js'), 'the dashboard script is read at run time');
    // The Grafana dashboard ships as the JSON users import, read at run time by `meridian dashboard grafana`.
    assert.deepEqual(paths.filter((p) => !p.endsWith('.js') && !['bin/meridian', 'README.md', 'package.json', 'shared/telemetry/dashboards/meridian-federation.json'].includes(p)), []);
    // Exactly the current code: every compiled file has its source, and a stale one was dropped.
    assert.deepEqual(paths.filter((p) => p.startsWith('dist/') && !existsSync(join(REPO_ROOT, p.slice('dist/'.length).replace(/\.js$/, '.ts')))), []);
    assert.equal(existsSync(join(REPO_ROOT, orphan)), false);
  });

  it('installs with npm install -g without a compiler or dev dependencies, and runs no install-time script of its own', () => {
    assert.equal(existsSync(join(installedPackage, 'tsconfig.json')), false);
    assert.equal(existsSync(join(installedPackage, 'scripts')), false);
    // (@types/node comes along: protobufjs, under @grpc/grpc-js, depends on it.)
    for (const dev of ['typescript', 'eslint', 'typescript-eslint', 'playwright-core', '.bin/tsc']) {
      assert.equal(existsSync(join(installedPackage, 'node_modules', dev)), false, dev);
    }
    const { scripts } = JSON.parse(readFileSync(join(installedPackage, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.deepEqual(['preinstall', 'install', 'postinstall', 'prepare'].filter((s) => s in scripts), []);
  });

  it('runs meridian --help and meridian ca init from the installed package without building anything', () => {
    const before = mtimes(join(installedPackage, 'dist'));
    const help = run(meridianBin, ['--help'], { env: vmEnv });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /meridian agent install/);
    const init = run(meridianBin, ['ca', 'init', '--trust-domain', 'acme.internal', '--dir', join(work, 'pki')], { env: vmEnv });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /trust domain acme.internal: root CA created/);
    assert.equal(init.stderr, '');
    const dashboard = run(meridianBin, ['dashboard', 'grafana'], { env: vmEnv });
    assert.equal(dashboard.code, 0, dashboard.stderr);
    assert.equal(dashboard.stdout, readFileSync(join(REPO_ROOT, 'shared/telemetry/dashboards/meridian-federation.json'), 'utf8'));
    assert.deepEqual(mtimes(join(installedPackage, 'dist')), before);
    assert.equal(existsSync(join(installedPackage, 'node_modules/.meridian-lock-sha256')), false, 'scripts/setup.sh (npm ci) ran');
  });

  it('installs the agent service from the installed package: a unit systemd-analyze verify accepts, running the installed meridian', () => {
    const config = join(work, 'agent.json');
    writeFileSync(config, JSON.stringify({ site: 'east', region: 'us-east', zone: 'us-east-1a', platform: 'vm', node: 'vm-1', nats: { url: 'tls://10.0.0.2:4222', trustDomain: 'acme.internal' } }));
    const root = join(work, 'vm');
    const install = run(meridianBin, ['agent', 'install', '--root', root, '--bin', meridianBin, '--config', config], { env: vmEnv });
    assert.equal(install.code, 0, install.stderr);
    const unitFile = join(root, 'etc/systemd/system/meridian-agent.service');
    assert.match(readFileSync(unitFile, 'utf8'), new RegExp(`^ExecStart=${meridianBin} agent run --config /etc/meridian/agent.json$`, 'm'));
    assert.deepEqual(verifyUnit(unitFile), { code: 0, output: '' });
  });

  it('says the install is incomplete, and builds nothing, when its dist/ is damaged', () => {
    rmSync(join(installedPackage, 'dist/cli/main.js'));
    const broken = run(meridianBin, ['--help'], { env: vmEnv });
    assert.equal(broken.code, 1);
    assert.equal(
      broken.stderr.trim(),
      `meridian: ${installedPackage}/dist/cli/main.js is missing: this installation is incomplete; reinstall the release package (npm install -g meridian-<version>.tgz)`,
    );
    assert.equal(existsSync(join(installedPackage, 'dist/cli/main.js')), false);
    assert.equal(existsSync(join(installedPackage, 'node_modules/.meridian-lock-sha256')), false);
  });
});
