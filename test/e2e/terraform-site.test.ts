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

const work = useTempDir('meridian-terraform-site-');
const SERVICE_PATHS = ['/etc/meridian', '/var/lib/meridian', '/usr/local/bin', '/usr/local/lib/node_modules'];
let tarball: string;

interface Site {
  user_data: string;
  units: Record<string, string>;
  status_port: number;
}

function siteModule(key: 'eu' | 'us', site: string, other: string, p: number[]): string {
  const [client, cluster, gateway, status, tunnel] = p;
  return `
module "${key}" {
  source          = "../terraform/modules/site"
  trust_domain    = "acme.internal"
  site            = "${site}"
  region          = "${key}-region"
  zone            = "${key}-zone-a"
  address         = "127.0.0.1"
  ca_role         = "${key === 'eu' ? 'root' : 'site'}"
  artifact        = "${tarball}"
  node_install    = "preinstalled"
  nats_server_bin = "${findBinary('nats-server')}"
  nats            = { listen_host = "127.0.0.1", client_port = ${client}, cluster_port = ${cluster}, gateway_port = ${gateway} }
  remote_gateways = { ${other} = module.${key === 'eu' ? 'us' : 'eu'}.nats_gateway_urls }
  control         = { status_port = ${status} }
  gateway         = { listen_host = "127.0.0.1", listen_port = ${tunnel} }
}
output "${key}" {
  value = { user_data = module.${key}.user_data, units = module.${key}.units, status_port = ${status} }
}
`;
}

before(() => {
  const available = terraformAvailable();
  if (!available.ok) assert.fail(terraformMissingMessage(available.reason));
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
  assert.equal(pack.status, 0, pack.stderr);
  tarball = join(work, (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string }])[0].filename);
});

it('two control hosts from the site user data bootstrap their CA and NATS, and federate', { timeout: 600_000 }, async () => {
  const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
  const tf = terraformWorkspace(work);
  mkdirSync(join(work, 'render'));
  writeFileSync(join(work, 'render/main.tf'), siteModule('eu', 'eu-k8s', 'us-vm', ports.slice(0, 5)) + siteModule('us', 'us-vm', 'eu-k8s', ports.slice(5)));
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
  const get = async (section: string): Promise<unknown> => {
    const response = await fetch(`http://127.0.0.1:${out.eu.value.status_port}/v1/status/${section}`, { headers: { authorization: `Bearer ${token}` } });
    return response.json();
  };
  await eventually(async () => {
    const sites = (await get('sites')) as { site: string; reachable: boolean }[];
    assert.deepEqual(sites.filter((s) => s.reachable).map((s) => s.site).sort(), ['eu-k8s', 'us-vm']);
    const links = (await get('links')) as { fromSite: string; toSite: string; state: string }[];
    assert.deepEqual(links.filter((l) => l.state === 'up').map((l) => `${l.fromSite}>${l.toSite}`).sort(), ['eu-k8s>us-vm', 'us-vm>eu-k8s'], services.map((s) => s.output()).join('\n---\n'));
  }, { timeoutMs: 90_000, intervalMs: 500 });
  for (const service of services.reverse()) {
    service.child.kill('SIGTERM');
    await service.exited;
  }
});
