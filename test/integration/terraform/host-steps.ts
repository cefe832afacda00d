import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliSync } from '../../support/cli.js';

/** Where one site's control host keeps its files (the site module's `paths`). */
export interface HostDirs {
  stateDir: string;
  configDir: string;
}

/** What the bootstrap needs to know about the site. */
export interface HostSite extends HostDirs {
  site: string;
  trustDomain: string;
  gatewayName: string;
  /** The PKI dir holding the root, for a site whose CA is signed there (ca_role = "site"); absent: this host holds the root. */
  rootPki?: string;
}

function meridian(cwd: string, ...args: string[]): void {
  const result = runCliSync(args, { cwd, timeoutMs: 30_000 });
  assert.equal(result.code, 0, `meridian ${args.join(' ')}: ${result.stderr}`);
}

/**
 * The `meridian` steps of the site module's bootstrap script, run under temp dirs: the CA (made
 * here, or requested from the root with a CSR and placed as the script's message says), then
 * `site nats-config` and the gateway's identity. systemd and package installs are the host's.
 */
export function bootstrapSiteHost(host: HostSite): void {
  const pki = join(host.stateDir, 'pki');
  const siteDir = join(pki, 'sites', host.site);
  mkdirSync(pki, { recursive: true });
  if (host.rootPki === undefined) {
    meridian(host.stateDir, 'ca', 'init', '--trust-domain', host.trustDomain, '--dir', pki);
    meridian(host.stateDir, 'ca', 'site', host.site, '--dir', pki);
  } else {
    const request = join(siteDir, 'request');
    writeFileSync(join(pki, 'trust-domain.json'), `{\n  "trustDomain": "${host.trustDomain}"\n}\n`);
    meridian(host.stateDir, 'ca', 'csr', '--trust-domain', host.trustDomain, '--site', host.site, '--out', request);
    // The operator's part, where the root lives: sign the CSR, copy back the certificate and bundle.
    meridian(host.stateDir, 'ca', 'site', host.site, '--csr', join(request, 'request.csr'), '--dir', host.rootPki);
    copyFileSync(join(host.rootPki, 'sites', host.site, 'ca.crt'), join(siteDir, 'ca.crt'));
    copyFileSync(join(host.rootPki, 'bundle.pem'), join(pki, 'bundle.pem'));
    renameSync(join(request, 'key.pem'), join(siteDir, 'ca.key'));
  }
  meridian(host.stateDir, 'site', 'nats-config', host.site, '--out', join(host.configDir, 'nats'), '--dir', pki);
  meridian(host.stateDir, 'ca', 'issue', '--site', host.site, '--kind', 'gateway', '--name', host.gatewayName, '--ttl', '24h', '--dir', pki);
  mkdirSync(join(host.stateDir, 'nats/jetstream'), { recursive: true });
}
