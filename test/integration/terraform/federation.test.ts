/**
 * Two sites provisioned from the site module, run from exactly what it renders: each site's
 * nats-server.conf (with the nats-site.conf `meridian site nats-config` writes), site.json for
 * `meridian site serve --config` and gateway.json for `meridian gateway run --config`, with the CA
 * work the bootstrap does on the host (the second site's CA signed at the first's root). The
 * federation forms: both control services see both sites, and the gateways link both ways.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_PATH } from '../../support/cli.js';
import { eventually, useTempDir } from '../../support/harness.js';
import { Child } from '../../support/servers/child.js';
import { findBinary, freePort } from '../../support/servers/index.js';
import { terraformAvailable, terraformMissingMessage, terraformWorkspace } from '../../support/terraform.js';
import { bootstrapSiteHost, type HostDirs } from './host-steps.js';

const work = useTempDir('meridian-terraform-federation-');
const SITES = { eu: 'eu-k8s', us: 'us-vm' } as const;
type Key = keyof typeof SITES;
const started: Child[] = [];

interface Rendered {
  site_json: string;
  gateway_json: string;
  nats_server_conf: string;
}

function siteModule(key: Key, other: Key, dirs: HostDirs, ports: number[]): string {
  const [client, cluster, gateway, status, tunnel] = ports;
  return `
module "${key}" {
  source          = "../terraform/modules/site"
  trust_domain    = "acme.internal"
  site            = "${SITES[key]}"
  region          = "${key}-region"
  zone            = "${key}-zone-a"
  address         = "127.0.0.1"
  ca_role         = "${key === 'eu' ? 'root' : 'site'}"
  artifact        = "https://releases.example.com/meridian-0.1.0.tgz"
  paths           = { state_dir = "${dirs.stateDir}", config_dir = "${dirs.configDir}" }
  nats            = { listen_host = "127.0.0.1", client_port = ${client}, cluster_port = ${cluster}, gateway_port = ${gateway} }
  remote_gateways = { ${SITES[other]} = module.${other}.nats_gateway_urls }
  control         = { status_port = ${status} }
  gateway         = { listen_host = "127.0.0.1", listen_port = ${tunnel}, heartbeat = "500ms" }
}
output "${key}" {
  value = { site_json = module.${key}.site_json, gateway_json = module.${key}.gateway_json, nats_server_conf = module.${key}.nats_server_conf }
}
`;
}

async function start(binary: string, args: string[], cwd: string, ready: RegExp | undefined): Promise<Child> {
  const child = await Child.spawn(binary, args, cwd);
  started.push(child);
  if (ready !== undefined) {
    await eventually(() => (ready.test(child.output()) ? true : assert.fail(`${args.join(' ')} not ready (exit ${JSON.stringify(child.exitInfo)}):\n${child.output()}`)), { timeoutMs: 60_000, intervalMs: 200 });
  }
  return child;
}

const dirs = (key: Key): HostDirs => ({ stateDir: join(work, key, 'state'), configDir: join(work, key, 'etc') });
let rendered: Record<Key, Rendered> | undefined;
let missing: string | undefined;

before(async () => {
  const available = terraformAvailable();
  if (!available.ok) {
    missing = terraformMissingMessage(available.reason);
    return;
  }
  const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
  const tf = terraformWorkspace(work);
  mkdirSync(join(work, 'render'));
  writeFileSync(join(work, 'render/main.tf'), siteModule('eu', 'us', dirs('eu'), ports.slice(0, 5)) + siteModule('us', 'eu', dirs('us'), ports.slice(5)));
  for (const args of [['init', '-backend=false'], ['apply', '-auto-approve']]) {
    const result = tf.run('../render', args);
    assert.equal(result.code, 0, `terraform ${args.join(' ')}: ${result.stderr}`);
  }
  const shown = tf.run('../render', ['output', '-json']);
  rendered = Object.fromEntries(Object.entries(JSON.parse(shown.stdout) as Record<string, { value: Rendered }>).map(([k, v]) => [k, v.value])) as Record<Key, Rendered>;
});

after(async () => {
  for (const child of started.reverse()) await child.stop(15_000);
});

describe('two sites from the site module', () => {
  it('run from the rendered configs and link: both sites reachable, gateway links up both ways', { timeout: 180_000 }, async () => {
    if (missing !== undefined || rendered === undefined) assert.fail(missing ?? 'terraform did not render the sites');
    bootstrapSiteHost({ site: SITES.eu, trustDomain: 'acme.internal', gatewayName: 'gw-1', ...dirs('eu') });
    bootstrapSiteHost({ site: SITES.us, trustDomain: 'acme.internal', gatewayName: 'gw-1', ...dirs('us'), rootPki: join(dirs('eu').stateDir, 'pki') });
    for (const key of ['eu', 'us'] as const) {
      const conf = join(dirs(key).configDir, 'nats/nats-server.conf');
      writeFileSync(conf, rendered[key].nats_server_conf);
      writeFileSync(join(dirs(key).configDir, 'site.json'), rendered[key].site_json);
      writeFileSync(join(dirs(key).configDir, 'gateway.json'), rendered[key].gateway_json);
      await start(findBinary('nats-server'), ['-c', conf], dirs(key).stateDir, /Server is ready/);
    }
    // What the units run: `meridian site serve --config site.json`, `meridian gateway run --config gateway.json`.
    await Promise.all((['eu', 'us'] as const).map((key) => start(process.execPath, [CLI_PATH, 'site', 'serve', '--config', join(dirs(key).configDir, 'site.json')], dirs(key).stateDir, /control service of site/)));
    for (const key of ['eu', 'us'] as const) {
      await start(process.execPath, [CLI_PATH, 'gateway', 'run', '--config', join(dirs(key).configDir, 'gateway.json')], dirs(key).stateDir, /gateway gw-1 of site .*: tunnels on/);
    }
    const status = (JSON.parse(rendered.eu.site_json) as { status: { port: number; tokenFile: string } }).status;
    const token = readFileSync(status.tokenFile, 'utf8').trim();
    const get = async (section: string): Promise<unknown> => {
      const response = await fetch(`http://127.0.0.1:${status.port}/v1/status/${section}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200, `GET /v1/status/${section}`);
      return response.json();
    };
    await eventually(async () => {
      const sites = (await get('sites')) as { site: string; reachable: boolean }[];
      assert.deepEqual(sites.filter((s) => s.reachable).map((s) => s.site).sort(), ['eu-k8s', 'us-vm']);
      const links = (await get('links')) as { fromSite: string; toSite: string; state: string }[];
      assert.deepEqual(links.filter((l) => l.state === 'up').map((l) => `${l.fromSite}>${l.toSite}`).sort(), ['eu-k8s>us-vm', 'us-vm>eu-k8s'], `links: ${JSON.stringify(links)}\n${started.map((c) => c.output()).join('\n----\n')}`);
    }, { timeoutMs: 60_000, intervalMs: 500 });
  });
});
