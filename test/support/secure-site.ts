/**
 * One secured site on a single nats-server (no supercluster: ready in well under a second):
 * trust-domain TLS, the site's NATS users, and an unrestricted `admin` user that tests use to
 * break things an operator can break (delete a bucket). Files (PKI, configs) live in a temp dir
 * removed at the end of the file. Also: a capturing logger, and `meridian` as a real child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { AgentConfig } from '../../agent/index.js';
import type { GatewayConfig } from '../../gateway/config.js';
import { siteConnectOptions } from '../../shared/catalog/index.js';
import { PkiDirectory } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { bootstrapSiteCatalog, prepareSiteNats, type SiteNatsSetup } from '../../services/site/index.js';
import { fileScope, useNatsServer } from './harness.js';
import type { NatsServerHandle } from './servers/index.js';

/** A secured single-server site. */
export interface SecureSite {
  readonly site: string;
  readonly dir: string;
  readonly pki: PkiDirectory;
  readonly setup: SiteNatsSetup;
  readonly nats: NatsServerHandle;
  /** A connection as `admin` (every subject allowed), closed at the end of the file. */
  admin(): Promise<NatsConnection>;
  /** A catalog-only agent config (API on a free port), its identity and password file written. */
  agentConfig(node: string, overrides?: Partial<AgentConfig>): AgentConfig;
  /** A gateway config (tunnels on a free port), its identity and password file written. */
  gatewayConfig(name: string, overrides?: Partial<GatewayConfig>): GatewayConfig;
  /** Writes `value` as JSON into the site's dir; returns the path. */
  writeJson(name: string, value: unknown): string;
}

/** Options of {@link useSecureSite}. */
export interface SecureSiteOptions {
  readonly site?: string;
  /** JetStream on the server (default true). */
  readonly jetstream?: boolean;
  /** Create the site's catalog and status buckets, as `meridian site` bootstrapping does (default true). */
  readonly bootstrap?: boolean;
}

const TRUST_DOMAIN = 'acme.internal';

/** Starts a secured site; everything is stopped and removed at the end of the test file. */
export async function useSecureSite(options: SecureSiteOptions = {}): Promise<SecureSite> {
  const site = options.site ?? 'solo';
  const dir = mkdtempSync(join(tmpdir(), 'meridian-site-'));
  fileScope.after(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const pki = new PkiDirectory(join(dir, 'pki'));
  pki.initRoot({ trustDomain: TRUST_DOMAIN });
  pki.createSite(site);
  const setup = prepareSiteNats(pki, site);
  const adminPassword = randomBytes(16).toString('hex');
  const authorization = setup.authorization.replace('  users: [\n', `  users: [\n    { user: "admin", password: "${adminPassword}" }\n`);
  const nats = await useNatsServer({ jetstream: options.jetstream ?? true, tls: { ...setup.tls, timeoutSeconds: 5 }, extraConfig: authorization });
  if (options.bootstrap ?? true) await bootstrapSiteCatalog({ pki, site, setup, url: nats.url });
  const passwordFile = join(dir, 'nats-password');
  writeFileSync(passwordFile, setup.password, { mode: 0o600 });
  const natsConfig = { url: nats.url, passwordFile, bundleFile: pki.bundlePath, trustDomain: TRUST_DOMAIN };
  const place = { site, region: `region-${site}`, zone: `${site}-a`, platform: 'vm' as const };
  return {
    site,
    dir,
    pki,
    setup,
    nats,
    async admin() {
      const identity = pki.issueMtlsIdentity(site, 'svc', 'control');
      const nc = await connect({ ...siteConnectOptions({ servers: nats.url, site, password: '', identity, name: 'test-admin' }), user: 'admin', pass: adminPassword });
      fileScope.after(() => nc.close());
      return nc;
    },
    agentConfig(node, overrides = {}) {
      const issued = pki.issueIdentity(site, 'agent', node);
      return {
        ...place,
        node,
        nats: { ...natsConfig, keyFile: issued.keyPath, certFile: issued.certPath },
        api: { host: '127.0.0.1', port: 0 },
        dataDir: join(dir, node),
        heartbeat: '500ms',
        leaseTtl: '3s',
        staleAfter: '3s',
        ...overrides,
      };
    },
    gatewayConfig(name, overrides = {}) {
      const issued = pki.issueIdentity(site, 'gateway', name);
      return {
        ...place,
        name,
        listen: { host: '127.0.0.1', port: 0 },
        keyFile: issued.keyPath,
        certFile: issued.certPath,
        nats: natsConfig,
        heartbeat: '500ms',
        ...overrides,
      };
    },
    writeJson(name, value) {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(value, null, 2));
      return path;
    },
  };
}

/** One line a {@link captureLogger} received. */
export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps what it is told (and echoes it with MERIDIAN_TEST_LOGS=1). */
export function captureLogger(): { log: Logger; lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const emit = (level: LogLine['level']) => (message: string, fields: Record<string, unknown> = {}): void => {
    lines.push({ level, message, fields });
    if (process.env.MERIDIAN_TEST_LOGS === '1') process.stderr.write(`${level} ${message} ${JSON.stringify(fields)}\n`);
  };
  return {
    log: { info: emit('info'), warn: emit('warn'), error: emit('error') },
    lines,
    text: () => lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields)}`).join('\n'),
  };
}

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** A `meridian` child process (the compiled CLI), killed at the end of the file if still running. */
export interface MeridianChild {
  readonly child: ChildProcess;
  /** Resolves with the exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Resolves once the output matches `pattern`; rejects (with the output) after `timeoutMs` or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** Spawns `meridian <args>` as a real process. */
export function spawnMeridian(args: readonly string[]): MeridianChild {
  return spawnWatched(process.execPath, [CLI, ...args], { label: `meridian ${args.join(' ')}` });
}

/** Spawns any command with its output collected, killed at the end of the file if still running. */
export function spawnWatched(file: string, args: readonly string[], options: { label: string; cwd?: string; env?: NodeJS.ProcessEnv }): MeridianChild {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }), ...(options.env === undefined ? {} : { env: options.env }) });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  fileScope.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    child,
    exited,
    output: () => output,
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output);
        if (match !== null) return match;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          throw new Error(`${options.label}: no ${String(pattern)} in its output:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
