/**
 * Two control hosts provisioned from the site module, as cloud-init would run them: the user
 * data's files written and its bootstrap run on overlaid copies of this host
 * (test/support/systemd.ts): it installs the `npm pack` artifact, creates the meridian user,
 * makes the CA (eu-k8s holds the root; us-vm requests its site CA, which the operator signs at
 * the root, then runs the bootstrap again), writes nats-site.conf and the gateway identity and
 * enables the units (systemd is not PID 1 here: systemctl is recorded, then each unit's
 * ExecStart is started as systemd would). The sites federate: status shows both, links up.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, it } from 'node:test';
import { REPO_ROOT } from '../support/cli.js';
import { eventually, useTempDir } from '../support/harness.js';
import { findBinary, freePort } from '../support/servers/index.js';
import { runCloudInit } from '../support/cloud-init.js';
import { serviceStart, startUnitService } from '../support/systemd.js';
import { terraformAvailable, terraformMissingMessage, terraformWorkspace } from '../support/terraform.js';
import { packArtifact, siteModule, waitForFederation, type SiteKey } from '../support/terraform-sites.js';

const work = useTempDir('meridian-terraform-site-');
const SERVICE_PATHS = ['/etc/meridian', '/var/lib/meridian', '/usr/local/bin', '/usr/local/lib/node_modules'];
let tarball: string;

interface Site {
  user_data: string;
  units: Record<string, string>;
}

before(() => {
  const available = terraformAvailable();
  if (!available.ok) assert.fail(terraformMissingMessage(available.reason));
  tarball = packArtifact(work);
});

it('two control hosts from the site user data bootstrap their CA and NATS, and federate', { timeout: 600_000 }, async () => {
  const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
  const tf = terraformWorkspace(work);
  mkdirSync(join(work, 'render'));
  const site = (key: SiteKey, sitePorts: number[]): string =>
    siteModule({ key, artifact: tarball, ports: sitePorts, inputs: ['node_install    = "preinstalled"', `nats_server_bin = "${findBinary('nats-server')}"`], outputs: ['user_data', 'units'] });
  writeFileSync(join(work, 'render/main.tf'), site('eu', ports.slice(0, 5)) + site('us', ports.slice(5)));
  for (const args of [['init', '-backend=false'], ['apply', '-auto-approve']]) assert.equal(tf.run('../render', args).code, 0, `terraform ${args[0]}`);
  const out = JSON.parse(tf.run('../render', ['output', '-json']).stdout) as Record<'eu' | 'us', { value: Site }>;
  const enable = 'enable --now meridian-nats.service meridian-site.service meridian-gateway.service';

  const eu = runCloudInit({ dir: join(work, 'eu'), userData: out.eu.value.user_data });
  assert.equal(eu.code, 0, eu.output);
  assert.deepEqual(eu.systemctl, ['disable --now nats-server.service', 'daemon-reload', enable]);

  const us = runCloudInit({ dir: join(work, 'us'), userData: out.us.value.user_data });
  assert.equal(us.code, 0, us.output);
  assert.match(us.output, /site CA requested: \/var\/lib\/meridian\/pki\/sites\/us-vm\/request\/request\.csr/);
  assert.deepEqual(us.systemctl, [], 'nothing starts before the site CA is signed');
  // The operator, where the root lives (eu-k8s's host), as the bootstrap's message says; then the bootstrap again.
  const rootPki = eu.upper('/var/lib/meridian/pki');
  const sign = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli/main.js'), 'ca', 'site', 'us-vm', '--csr', us.upper('/var/lib/meridian/pki/sites/us-vm/request/request.csr'), '--dir', rootPki], { encoding: 'utf8' });
  assert.equal(sign.status, 0, sign.stderr);
  copyFileSync(join(rootPki, 'sites/us-vm/ca.crt'), us.upper('/var/lib/meridian/pki/sites/us-vm/ca.crt'));
  copyFileSync(join(rootPki, 'bundle.pem'), us.upper('/var/lib/meridian/pki/bundle.pem'));
  const again = runCloudInit({ dir: join(work, 'us'), userData: out.us.value.user_data, rerun: '/usr/local/lib/meridian/bootstrap-site.sh' });
  assert.equal(again.code, 0, again.output);
  assert.deepEqual(again.systemctl, ['disable --now nats-server.service', 'daemon-reload', enable]);

  // systemd's part: each unit's ExecStart with the host's installed files at their paths.
  const services: ReturnType<typeof startUnitService>[] = [];
  for (const key of ['eu', 'us'] as const) {
    for (const unit of ['meridian-nats.service', 'meridian-site.service', 'meridian-gateway.service']) {
      services.push(startUnitService({ root: join(work, key, 'host/upper'), start: serviceStart(out[key].value.units[unit] ?? ''), paths: SERVICE_PATHS }));
      if (unit === 'meridian-nats.service') await services.at(-1)?.waitFor(/Server is ready/);
    }
  }
  // The control service writes its status token on first start, into the host's /var/lib/meridian.
  const token = await eventually(() => readFileSync(eu.upper('/var/lib/meridian/status-token'), 'utf8').trim(), { timeoutMs: 60_000, intervalMs: 200 });
  await waitForFederation({ port: ports[3] ?? 0, token, timeoutMs: 90_000, diagnostics: () => services.map((s) => s.output()).join('\n---\n') });
  for (const service of services.reverse()) {
    service.child.kill('SIGTERM');
    await service.exited;
  }
});
