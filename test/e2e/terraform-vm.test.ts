/**
 * A VM provisioned from the vm-agent module, as cloud-init would run it: two sites run from what
 * the site module renders; a token from `meridian token create`; the vm-agent user data's files
 * written and its runcmd run on an overlaid copy of this host (test/support/systemd.ts): the
 * bootstrap installs the `npm pack` artifact, creates the meridian user, joins with the token
 * and enables the unit (systemd is not PID 1 here: systemctl is recorded, and the unit's
 * ExecStart is then started as systemd would start it). The agent comes up on the joined credentials.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { CLI_PATH, runCliSync } from '../support/cli.js';
import { eventually, useTempDir } from '../support/harness.js';
import { Child } from '../support/servers/child.js';
import { findBinary, freePort } from '../support/servers/index.js';
import { runCloudInit } from '../support/cloud-init.js';
import { serviceStart, startUnitService } from '../support/systemd.js';
import { terraformAvailable, terraformMissingMessage, terraformWorkspace, type TerraformWorkspace } from '../support/terraform.js';
import { packArtifact, siteModule, startUntilReady, type SiteKey } from '../support/terraform-sites.js';
import { bootstrapSiteHost, type HostDirs } from '../integration/terraform/host-steps.js';

const work = useTempDir('meridian-terraform-vm-');
const started: Child[] = [];
const dirs = (key: string): HostDirs => ({ stateDir: join(work, key, 'state'), configDir: join(work, key, 'etc') });
let tf: TerraformWorkspace;
let tarball: string;
let ports: number[];

function vmModule(apiPort: number): string {
  return `
variable "token" {
  type      = string
  default   = null
  sensitive = true
}
module "vm" {
  count           = var.token == null ? 0 : 1
  source          = "../terraform/modules/vm-agent"
  trust_domain    = "acme.internal"
  site            = "eu-k8s"
  node            = "vm-1"
  region          = "eu-region"
  zone            = "eu-zone-b"
  control_address = module.eu.control_address
  nats_url        = module.eu.nats_url
  join_token      = var.token
  artifact        = "${tarball}"
  node_install    = "preinstalled"
  api_port        = ${apiPort}
}
output "vm" {
  value     = try({ user_data = module.vm[0].user_data, unit = module.vm[0].unit }, null)
  sensitive = true
}
`;
}

function apply(extra: string[] = []): Record<string, { value: unknown }> {
  for (const args of [['init', '-backend=false'], ['apply', '-auto-approve', ...extra]]) {
    const result = tf.run('../render', args, 300_000);
    assert.equal(result.code, 0, `terraform ${args[0]}: ${result.stderr}`);
  }
  return JSON.parse(tf.run('../render', ['output', '-json']).stdout) as Record<string, { value: unknown }>;
}

const start = (binary: string, args: string[], cwd: string, ready: RegExp): Promise<Child> => startUntilReady(started, { binary, args, cwd, ready });

before(() => {
  const available = terraformAvailable();
  if (!available.ok) assert.fail(terraformMissingMessage(available.reason));
  tarball = packArtifact(work);
  tf = terraformWorkspace(work);
});

after(async () => {
  for (const child of started.reverse()) await child.stop(15_000);
});

it('a VM from the vm-agent user data installs the artifact, joins with its token and runs the agent', { timeout: 600_000 }, async () => {
  ports = await Promise.all(Array.from({ length: 13 }, () => freePort()));
  mkdirSync(join(work, 'render'));
  const site = (key: SiteKey, sitePorts: number[]): string => siteModule({ key, artifact: tarball, ports: sitePorts, paths: dirs(key), outputs: ['site_json', 'nats_server_conf'] });
  writeFileSync(join(work, 'render/main.tf'), site('eu', ports.slice(0, 6)) + site('us', ports.slice(6, 12)) + vmModule(ports[12] ?? 0));
  const sites = apply();
  bootstrapSiteHost({ site: 'eu-k8s', trustDomain: 'acme.internal', gatewayName: 'gw-1', ...dirs('eu') });
  bootstrapSiteHost({ site: 'us-vm', trustDomain: 'acme.internal', gatewayName: 'gw-1', ...dirs('us'), rootPki: join(dirs('eu').stateDir, 'pki') });
  for (const key of ['eu', 'us'] as const) {
    const value = sites[key]?.value as { site_json: string; nats_server_conf: string };
    writeFileSync(join(dirs(key).configDir, 'nats/nats-server.conf'), value.nats_server_conf);
    writeFileSync(join(dirs(key).configDir, 'site.json'), value.site_json);
    await start(findBinary('nats-server'), ['-c', join(dirs(key).configDir, 'nats/nats-server.conf')], dirs(key).stateDir, /Server is ready/);
  }
  await Promise.all((['eu', 'us'] as const).map((key) => start(process.execPath, [CLI_PATH, 'site', 'serve', '--config', join(dirs(key).configDir, 'site.json')], dirs(key).stateDir, /control service of site/)));

  // The token_command output, run as the control host's operator.
  const created = runCliSync(['token', 'create', '--site', 'eu-k8s', '--config', join(dirs('eu').configDir, 'site.json'), '--node', 'vm-1'], { cwd: dirs('eu').stateDir, timeoutMs: 30_000 });
  assert.equal(created.code, 0, created.stderr);
  const vm = apply([`-var=token=${created.stdout.trim()}`])['vm']?.value as { user_data: string; unit: string };

  // cloud-init's part (systemctl recorded: systemd is not PID 1 here).
  const host = runCloudInit({ dir: join(work, 'vm'), userData: vm.user_data });
  assert.equal(host.code, 0, `cloud-init run:\n${host.output}`);
  assert.deepEqual(host.systemctl, ['daemon-reload', 'enable --now meridian-agent']);
  const uid = Number(/^meridian:[^:]*:(\d+):/m.exec(readFileSync(host.upper('/etc/passwd'), 'utf8'))?.[1]);
  for (const file of ['agent.key', 'agent.crt', 'bundle.pem', 'nats-password']) {
    const stat = statSync(host.upper(`/var/lib/meridian/credentials/${file}`));
    assert.equal(stat.mode & 0o777, 0o600, file);
    assert.equal(stat.uid, uid, `${file} belongs to the meridian user`);
  }
  assert.ok(!existsSync(host.upper('/run/meridian/join-token')), 'the bootstrap removes the token');
  assert.ok(readdirSync(host.upper('/usr/local/lib/node_modules')).includes('meridian'));

  // systemd's part: the unit's ExecStart with the installed files at their paths.
  const agent = startUnitService({ root: join(work, 'vm/host/upper'), start: serviceStart(vm.unit), paths: ['/etc/meridian', '/var/lib/meridian', '/usr/local/bin', '/usr/local/lib/node_modules'] });
  await eventually(async () => {
    const response = await fetch(`http://127.0.0.1:${ports[12]}/v1/ready`);
    assert.equal(response.status, 200, agent.output());
  }, { timeoutMs: 60_000, intervalMs: 500 });
  agent.child.kill('SIGTERM');
  await agent.exited;
});
