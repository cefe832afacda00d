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
import { useTempDir } from '../../support/harness.js';
import { Child } from '../../support/servers/child.js';
import { findBinary, freePort } from '../../support/servers/index.js';
import { terraformAvailable, terraformMissingMessage, terraformWorkspace } from '../../support/terraform.js';
import { SITE_PAIR, siteModule, startUntilReady, waitForFederation, type SiteKey } from '../../support/terraform-sites.js';
import { bootstrapSiteHost, type HostDirs } from './host-steps.js';

const work = useTempDir('meridian-terraform-federation-');
const started: Child[] = [];

interface Rendered {
  site_json: string;
  gateway_json: string;
  nats_server_conf: string;
}

const start = (binary: string, args: string[], cwd: string, ready: RegExp): Promise<Child> => startUntilReady(started, { binary, args, cwd, ready });

const dirs = (key: SiteKey): HostDirs => ({ stateDir: join(work, key, 'state'), configDir: join(work, key, 'etc') });
let rendered: Record<SiteKey, Rendered> | undefined;
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
  const site = (key: SiteKey, sitePorts: number[]): string =>
    siteModule({ key, artifact: 'https://releases.example.com/meridian-0.1.0.tgz', ports: sitePorts, paths: dirs(key), gatewayHeartbeat: '500ms', outputs: ['site_json', 'gateway_json', 'nats_server_conf'] });
  writeFileSync(join(work, 'render/main.tf'), site('eu', ports.slice(0, 5)) + site('us', ports.slice(5)));
  for (const args of [['init', '-backend=false'], ['apply', '-auto-approve']]) {
    const result = tf.run('../render', args);
    assert.equal(result.code, 0, `terraform ${args.join(' ')}: ${result.stderr}`);
  }
  const shown = tf.run('../render', ['output', '-json']);
  rendered = Object.fromEntries(Object.entries(JSON.parse(shown.stdout) as Record<string, { value: Rendered }>).map(([k, v]) => [k, v.value])) as Record<SiteKey, Rendered>;
});

after(async () => {
  for (const child of started.reverse()) await child.stop(15_000);
});

describe('two sites from the site module', () => {
  it('run from the rendered configs and link: both sites reachable, gateway links up both ways', { timeout: 180_000 }, async () => {
    if (missing !== undefined || rendered === undefined) assert.fail(missing ?? 'terraform did not render the sites');
    bootstrapSiteHost({ site: SITE_PAIR.eu, trustDomain: 'acme.internal', gatewayName: 'gw-1', ...dirs('eu') });
    bootstrapSiteHost({ site: SITE_PAIR.us, trustDomain: 'acme.internal', gatewayName: 'gw-1', ...dirs('us'), rootPki: join(dirs('eu').stateDir, 'pki') });
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
    await waitForFederation({ port: status.port, token, timeoutMs: 60_000, diagnostics: () => started.map((c) => c.output()).join('\n----\n') });
  });
});
