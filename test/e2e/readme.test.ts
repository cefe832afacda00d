/**
 * The README's configuration, as written: every JSON and YAML config snippet validates against
 * the schema the product reads it with, and the two-site NATS supercluster configuration runs on
 * real nats-server processes and carries a federation (each site's control service sees both).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { AgentConfigSchema } from '../../agent/index.js';
import { installedConfig } from '../../agent/install/index.js';
import { GatewayConfigSchema } from '../../gateway/index.js';
import { parseServiceDefinition } from '../../shared/catalog/index.js';
import { parseConfig } from '../../shared/config/index.js';
import { parsePolicySet } from '../../shared/policy/index.js';
import { parseSiteConfig } from '../../services/site/config.js';
import { MERIDIAN_BIN as MERIDIAN, REPO_ROOT as ROOT } from '../support/cli.js';
import { eventually } from '../support/harness.js';
import { Child } from '../support/servers/child.js';
import { findBinary } from '../support/servers/index.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced code blocks of the README in a language, with their text. */
function blocks(language: string): string[] {
  return [...README.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] ?? '');
}

/** The `conf` block whose first line names `file` (`# site-eu/nats-server.conf`). */
function confBlock(file: string): string {
  const block = blocks('conf').find((text) => text.startsWith(`# ${file}\n`));
  assert.ok(block !== undefined, `README has no conf block for ${file}`);
  return block;
}

/** An agent.json that names no credential files: the one `meridian agent install` completes. */
function isOperatorConfig(value: Record<string, unknown>): boolean {
  const nats = value.nats as Record<string, unknown> | undefined;
  return nats !== undefined && !('keyFile' in nats) && !('certFile' in nats) && !('bundleFile' in nats) && !('passwordFile' in nats);
}

describe('README configuration snippets', () => {
  it('every JSON config snippet validates: agent.json (as run, or as installed), gateway.json, site.json, and fragments of agent.json', () => {
    const seen = { agent: 0, gateway: 0, fragment: 0, installed: 0, site: 0 };
    for (const text of blocks('json')) {
      const trimmed = text.trim();
      if (trimmed.startsWith('{')) {
        const value = JSON.parse(trimmed) as Record<string, unknown>;
        if ('natsServer' in value || 'pkiDir' in value) {
          parseSiteConfig(value, 'README site.json');
          seen.site++;
        } else if ('listen' in value || 'advertise' in value) {
          parseConfig(GatewayConfigSchema, value, 'README gateway.json');
          seen.gateway++;
        } else if (isOperatorConfig(value)) {
          // An agent.json for `meridian agent install`: valid once the install fills in the credential paths.
          installedConfig(value, 'README agent.json (meridian agent install)');
          seen.installed++;
        } else {
          parseConfig(AgentConfigSchema, value, 'README agent.json');
          seen.agent++;
        }
        continue;
      }
      // A fragment (`"mesh": { … }`): a part of agent.json, valid against that part of the schema.
      const fragment = JSON.parse(`{${trimmed}}`) as Record<string, unknown>;
      for (const [key, value] of Object.entries(fragment)) {
        const schema = AgentConfigSchema.properties[key as keyof typeof AgentConfigSchema.properties];
        assert.ok(schema !== undefined, `README fragment ${key} is not an agent.json field`);
        parseConfig(schema, value, `README agent.json /${key}`);
      }
      seen.fragment++;
    }
    assert.ok(seen.agent >= 1 && seen.gateway >= 1 && seen.fragment >= 1 && seen.installed >= 1 && seen.site >= 1, JSON.stringify(seen));
  });

  it('every YAML service definition validates', () => {
    let definitions = 0;
    for (const text of blocks('yaml')) {
      for (const document of parseAllDocuments(text)) {
        const value = document.toJS() as unknown;
        if (value === null || typeof value !== 'object' || !('service' in value)) continue;
        parseServiceDefinition(value, 'README');
        definitions++;
      }
    }
    assert.ok(definitions >= 3, `only ${definitions} service definitions found`);
  });

  it('every YAML policy document (one with a kind) validates as a policy set', () => {
    const sources = blocks('yaml').filter((text) => /^kind: /m.test(text)).map((text, i) => ({ file: `README policy block ${i}`, text }));
    const set = parsePolicySet(sources, { trustDomain: 'acme.internal' });
    assert.ok(set.authorizations.length >= 1, `only ${set.authorizations.length} Authorization documents found`);
  });
});

describe('README two-site NATS supercluster', () => {
  const work = mkdtempSync(join(tmpdir(), 'meridian-readme-'));
  const started: { stop(): Promise<unknown> }[] = [];
  after(async () => {
    for (const process of started.reverse()) await process.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const meridian = (...args: string[]): string => {
    const result = spawnSync(MERIDIAN, args, { cwd: work, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, `meridian ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  /** `meridian site serve …` as a long-running process; resolves with its output so far once it says `expect`. */
  async function serve(args: string[], expect: RegExp): Promise<string> {
    const child = spawn(MERIDIAN, ['site', 'serve', ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    started.push({
      stop: () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        return exited;
      },
    });
    return eventually(() => (expect.test(output) ? output : assert.fail(`site serve ${args[0] ?? ''} not ready:\n${output}`)), { timeoutMs: 45_000, intervalMs: 200 });
  }

  it('runs as written and links the sites: each control service reports both sites', async () => {
    meridian('ca', 'init', '--trust-domain', 'acme.internal');
    meridian('ca', 'site', 'eu-k8s');
    meridian('ca', 'site', 'us-vm');
    meridian('site', 'nats-config', 'eu-k8s', '--out', 'site-eu');
    meridian('site', 'nats-config', 'us-vm', '--out', 'site-us');
    for (const [dir, file] of [['site-eu', 'site-eu/nats-server.conf'], ['site-us', 'site-us/nats-server.conf']] as const) {
      writeFileSync(join(work, file), confBlock(file));
      const server = await Child.spawn(findBinary('nats-server'), ['-c', join(work, file)], work);
      started.push({ stop: () => server.stop(10_000) });
      assert.equal(server.exitInfo, undefined, `${dir}: ${server.output()}`);
    }
    const eu = await serve(['eu-k8s', '--nats', 'nats://127.0.0.1:4222', '--region', 'eu-west', '--platform', 'kubernetes', '--status-port', '0'], /status API: (http:\/\/\S+)\/v1\/status/);
    await serve(['us-vm', '--nats', 'nats://127.0.0.1:4223', '--region', 'us-east', '--platform', 'vm'], /control service of site us-vm/);
    const url = /status API: (http:\/\/\S+)\/v1\/status/.exec(eu)?.[1] ?? '';
    const token = readFileSync(join(work, 'meridian-data/status-token'), 'utf8').trim();
    const sites = await eventually(async () => {
      const response = await fetch(`${url}/v1/status/sites`, { headers: { authorization: `Bearer ${token}` } });
      const rows = (await response.json()) as { site: string; reachable: boolean }[];
      const reachable = rows.filter((s) => s.reachable).map((s) => s.site).sort();
      assert.deepEqual(reachable, ['eu-k8s', 'us-vm']);
      return reachable;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.deepEqual(sites, ['eu-k8s', 'us-vm']);
  });
});
