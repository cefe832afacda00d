import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { AgentConfigSchema } from '../../../agent/config.js';
import { INSTALLED_AGENT, INSTALLED_CREDENTIALS, SYSUSERS_LINE, installedConfig, renderAgentUnit } from '../../../agent/install/index.js';
import { GatewayConfigSchema } from '../../../gateway/config.js';
import { SiteConfigSchema } from '../../../services/site/config.js';
import { parseConfig } from '../../../shared/config/index.js';
import { REPO_ROOT, runCliSync } from '../../support/cli.js';
import { useTempDir } from '../../support/harness.js';
import { findBinary } from '../../support/servers/binary.js';
import { runTool, terraformAvailable, terraformMissingMessage, terraformWorkspace, type TerraformWorkspace } from '../../support/terraform.js';
import { bootstrapSiteHost } from './host-steps.js';
import { CONTRACT_CONFIG, CONTRACT_EXEC, JOIN_TOKEN, renderRootModule, type RenderPaths } from './render-root.js';

const CONFIGS = ['modules/site', 'modules/vm-agent', 'examples/three-sites'] as const;
const CONTRACT = readFileSync(join(REPO_ROOT, 'test/integration/terraform/fixtures/meridian-agent.service.contract'), 'utf8');

const work = useTempDir('meridian-terraform-');
const paths: RenderPaths = { fakeRoot: join(work, 'fake'), stateDir: join(work, 'state'), configDir: join(work, 'etc') };
let available: ReturnType<typeof terraformAvailable>;
let tf: TerraformWorkspace;
const inits = new Map<string, { code: number | null; output: string }>();
let outputs: Record<string, { value: unknown; sensitive: boolean }> = {};

/** Fails the test, naming what did not run and how to install terraform, when it is missing. */
function requireTerraform(): void {
  if (!available.ok) assert.fail(terraformMissingMessage(available.reason));
}

function output(name: string): string {
  const value = outputs[name]?.value;
  assert.equal(typeof value, 'string', `terraform output ${name}`);
  return value as string;
}

function runCliOk(args: string[]): void {
  const result = runCliSync(args, { cwd: work, timeoutMs: 30_000 });
  assert.equal(result.code, 0, `meridian ${args.join(' ')}: ${result.stderr}`);
}

function fakeExecutable(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
}

/** Applies the render root (outputs only: nothing but state is written) and reads its outputs. */
function render(): void {
  mkdirSync(join(work, 'render'));
  writeFileSync(join(work, 'render/main.tf'), renderRootModule(paths));
  const init = tf.run('../render', ['init', '-backend=false']);
  assert.equal(init.code, 0, `terraform init of the render root: ${init.stderr}`);
  const apply = tf.run('../render', ['apply', '-auto-approve']);
  assert.equal(apply.code, 0, `terraform apply of the render root: ${apply.stderr}`);
  const shown = tf.run('../render', ['output', '-json']);
  assert.equal(shown.code, 0, shown.stderr);
  outputs = JSON.parse(shown.stdout) as typeof outputs;
}

before(() => {
  available = terraformAvailable();
  if (!available.ok) return;
  tf = terraformWorkspace(work);
  for (const dir of CONFIGS) {
    const init = tf.run(dir, ['init', '-backend=false']);
    inits.set(dir, { code: init.code, output: init.stdout + init.stderr });
  }
  fakeExecutable(join(paths.fakeRoot, 'bin/meridian'));
  fakeExecutable(join(paths.fakeRoot, 'sbin/nats-server'));
  render();
});

describe('terraform modules, offline with built-in features only', () => {
  it('are formatted (terraform fmt -check -recursive)', () => {
    requireTerraform();
    const fmt = tf.run('.', ['fmt', '-check', '-recursive']);
    assert.equal(fmt.code, 0, `files terraform fmt would change:\n${fmt.stdout}${fmt.stderr}`);
  });

  it('initialise with no provider download and validate', () => {
    requireTerraform();
    for (const dir of CONFIGS) {
      const init = inits.get(dir);
      assert.equal(init?.code, 0, `terraform init -backend=false in terraform/${dir}: ${init?.output}`);
      const validate = tf.run(dir, ['validate']);
      assert.equal(validate.code, 0, `terraform validate in terraform/${dir}: ${validate.stderr}`);
      assert.match(validate.stdout, /The configuration is valid/);
    }
  });

  it('pass every run of their terraform test files', () => {
    requireTerraform();
    for (const dir of CONFIGS) {
      const testsDir = join(tf.root, dir, 'tests');
      const runs = readdirSync(testsDir).map((file) => readFileSync(join(testsDir, file), 'utf8').match(/^run "/gm)?.length ?? 0).reduce((a, b) => a + b, 0);
      const result = tf.run(dir, ['test'], 300_000);
      assert.equal(result.code, 0, `terraform test in terraform/${dir}:\n${result.stdout}${result.stderr}`);
      assert.match(result.stdout, new RegExp(`Success! ${runs} passed, 0 failed`), `terraform/${dir}: expected all ${runs} runs to pass`);
    }
  });
});

describe('vm-agent renders what the agent and systemd accept', () => {
  it('writes the unit of the contract byte for byte for the same inputs', () => {
    requireTerraform();
    assert.equal(output('unit_contract'), CONTRACT.replace('${EXEC}', CONTRACT_EXEC).replace('${CONFIG}', CONTRACT_CONFIG));
    const privileged = CONTRACT.replace('${EXEC}', join(paths.fakeRoot, 'bin/meridian'))
      .replace('${CONFIG}', CONTRACT_CONFIG)
      .replace('\nCapabilityBoundingSet=\n', '\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n')
      .replace('\nAmbientCapabilities=\n', '\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n');
    assert.equal(output('unit_privileged'), privileged, 'an API port below 1024 changes only the two capability lines');
  });

  it('renders units that systemd-analyze verify accepts (ExecStart on a fake executable under a temp root)', () => {
    requireTerraform();
    const dir = join(work, 'units');
    mkdirSync(dir, { recursive: true });
    const units: Record<string, string> = { 'meridian-agent.service': output('unit'), 'meridian-agent-privileged.service': output('unit_privileged'), ...(outputs['site_units']?.value as Record<string, string>) };
    assert.equal(Object.keys(units).length, 5);
    for (const [name, text] of Object.entries(units)) {
      writeFileSync(join(dir, name), text);
      const verify = runTool('systemd-analyze', ['verify', join(dir, name)]);
      if (verify.missing) assert.fail('systemd-analyze not found: systemd-analyze verify of the rendered units did not run; install it with: apt-get install systemd');
      assert.equal(verify.code, 0, `systemd-analyze verify ${name}: ${verify.stderr}`);
      assert.doesNotMatch(verify.stderr, /meridian/, `systemd-analyze verify ${name} warned: ${verify.stderr}`);
    }
  });

  it('renders an agent.json that AgentConfigSchema accepts, pointing at the joined credentials', () => {
    requireTerraform();
    const config = parseConfig(AgentConfigSchema, JSON.parse(output('agent_config')), 'vm-agent agent_config');
    assert.equal(config.site, 'us-vm');
    assert.equal(config.node, 'vm-2');
    assert.deepEqual(config.nats, {
      url: 'nats://nats.us-vm.internal:4222',
      trustDomain: 'acme.internal',
      passwordFile: '/var/lib/meridian/credentials/nats-password',
      keyFile: '/var/lib/meridian/credentials/agent.key',
      certFile: '/var/lib/meridian/credentials/agent.crt',
      bundleFile: '/var/lib/meridian/credentials/bundle.pem',
    });
    assert.equal(config.dataDir, '/var/lib/meridian/agent');
    assert.deepEqual(config.allowedServices, ['payments', 'orders-*']);
    assert.equal(config.mesh?.inboundPort, 15443);
    assert.equal(parseConfig(AgentConfigSchema, JSON.parse(output('agent_config_contract')), 'vm-agent defaults').api.port, 8510);
  });

  it('renders the unit, sysusers line and agent.json paths `meridian agent install` writes (agent/install)', () => {
    requireTerraform();
    assert.equal(output('unit_contract'), renderAgentUnit({ exec: CONTRACT_EXEC, privilegedPort: false }));
    assert.equal(output('unit_privileged'), renderAgentUnit({ exec: join(paths.fakeRoot, 'bin/meridian'), privilegedPort: true }));
    assert.equal(cloudConfig(output('user_data')).files.get(INSTALLED_AGENT.sysusersFile)?.content, `${SYSUSERS_LINE}\n`);
    const rendered = JSON.parse(output('agent_config')) as { nats: Record<string, string>; dataDir: string };
    const installed = JSON.parse(installedConfig(rendered, 'vm-agent agent_config').text) as typeof rendered;
    assert.deepEqual({ ...installed.nats }, { ...rendered.nats, ...INSTALLED_CREDENTIALS });
    assert.equal(rendered.dataDir, INSTALLED_AGENT.dataDir);
  });

  it('keeps the join token out of every output but user_data', () => {
    requireTerraform();
    for (const [name, { value, sensitive }] of Object.entries(outputs)) {
      const text = JSON.stringify(value);
      if (name === 'user_data') {
        assert.ok(text.includes(JOIN_TOKEN), 'user_data carries the token');
        assert.equal(sensitive, true, 'user_data is sensitive');
      } else {
        assert.ok(!text.includes(JOIN_TOKEN), `output ${name} must not contain the join token`);
      }
    }
  });
});

/** A cloud-config's files by path; the test checks the parsed YAML, as cloud-init reads it. */
function cloudConfig(text: string): { files: Map<string, { content: string; permissions: string }>; runcmd: unknown } {
  assert.ok(text.startsWith('#cloud-config\n'), 'user data starts with #cloud-config');
  const parsed = parseYaml(text) as { write_files: { path: string; content: string; permissions: string }[]; runcmd: unknown };
  return { files: new Map(parsed.write_files.map((f) => [f.path, f])), runcmd: parsed.runcmd };
}

/** `sh -n`: the bootstrap scripts parse with the shell cloud-init runs them with. */
function assertShellParses(script: string, name: string): void {
  const path = join(work, name);
  writeFileSync(path, script);
  const check = runTool('sh', ['-n', path]);
  assert.equal(check.code, 0, `sh -n ${name}: ${check.stderr}`);
}

describe('user data', () => {
  it('is cloud-config whose files are the rendered outputs, with bootstrap scripts that parse', () => {
    requireTerraform();
    const agent = cloudConfig(output('user_data'));
    assert.equal(agent.files.get('/etc/systemd/system/meridian-agent.service')?.content, output('unit'));
    assert.equal(agent.files.get('/etc/meridian/agent.json')?.content, output('agent_config'));
    assert.equal(agent.files.get('/usr/lib/sysusers.d/meridian.conf')?.content, 'u meridian - "Meridian agent" /var/lib/meridian\n');
    assert.deepEqual(agent.files.get('/run/meridian/join-token'), { path: '/run/meridian/join-token', owner: 'root:root', permissions: '0600', content: JOIN_TOKEN });
    assert.deepEqual(agent.runcmd, [['/usr/local/lib/meridian/bootstrap-agent.sh']]);
    assertShellParses(agent.files.get('/usr/local/lib/meridian/bootstrap-agent.sh')?.content ?? '', 'bootstrap-agent.sh');
    const site = cloudConfig(output('site_user_data'));
    assert.equal(site.files.get(join(paths.configDir, 'site.json'))?.content, output('site_json'));
    assert.equal(site.files.get(join(paths.configDir, 'nats/nats-server.conf'))?.content, output('nats_server_conf'));
    assertShellParses(site.files.get('/usr/local/lib/meridian/bootstrap-site.sh')?.content ?? '', 'bootstrap-site.sh');
  });
});

describe('site renders what the control service, the gateway and nats-server accept', () => {
  it('renders a site.json SiteConfigSchema accepts and a gateway.json GatewayConfigSchema accepts', () => {
    requireTerraform();
    const site = parseConfig(SiteConfigSchema, JSON.parse(output('site_json')), 'site site_json');
    assert.equal(site.pkiDir, join(paths.stateDir, 'pki'));
    assert.deepEqual(site.status, { host: '127.0.0.1', port: 8600, tls: false, tokenFile: join(paths.stateDir, 'status-token') });
    const gateway = parseConfig(GatewayConfigSchema, JSON.parse(output('gateway_json')), 'site gateway_json');
    assert.equal(gateway.nats.passwordFile, join(paths.configDir, 'nats/nats-password'));
    assert.deepEqual(gateway.metrics, { host: '127.0.0.1', port: 9440 });
  });

  it('renders a nats-server.conf nats-server accepts with the nats-site.conf meridian writes (site CA signed at the root)', () => {
    requireTerraform();
    // The site module's bootstrap with ca_role = "site": its CA signed where the root lives.
    const rootPki = join(work, 'root-pki');
    runCliOk(['ca', 'init', '--trust-domain', 'acme.internal', '--dir', rootPki]);
    bootstrapSiteHost({ site: 'us-vm', trustDomain: 'acme.internal', gatewayName: 'gw-1', stateDir: paths.stateDir, configDir: paths.configDir, rootPki });

    const gateway = JSON.parse(output('gateway_json')) as { keyFile: string; certFile: string; nats: { passwordFile: string; bundleFile: string } };
    for (const file of [gateway.keyFile, gateway.certFile, gateway.nats.passwordFile, gateway.nats.bundleFile]) assert.ok(existsSync(file), `gateway.json names ${file}, which the bootstrap writes`);
    const conf = join(paths.configDir, 'nats/nats-server.conf');
    writeFileSync(conf, output('nats_server_conf'));
    const check = runTool(findBinary('nats-server'), ['-t', '-c', conf]);
    assert.equal(check.code, 0, `nats-server -t -c ${conf}: ${check.stdout}${check.stderr}`);
  });
});
