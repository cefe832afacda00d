import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { readJsonFile } from '../../shared/config/index.js';
import { MeridianError } from '../../shared/errors/index.js';
import { readText, writeFileAtomic } from '../../shared/identity/index.js';
import { ensureServiceUser, findInstalledBin, lookupUser, systemctl, systemdIsRunning } from './host.js';
import { INSTALLED_AGENT, SYSUSERS_LINE, installedConfig, type InstalledConfig } from './layout.js';
import { renderAgentUnit } from './unit.js';

/** Options of {@link installAgent}. */
export interface InstallOptions {
  /** Write under this directory (an image, a test) and leave the host's users and systemd alone. */
  readonly root?: string;
  /** The agent config to install; absent, the installed one is kept (a re-install). */
  readonly configFile?: string;
  /**
   * Absolute path of `meridian` on the target system (the unit's ExecStart). Default: the
   * installed unit's; else on the host /usr/local/bin/meridian or the `meridian` on PATH, and
   * under `root` /usr/local/bin/meridian.
   */
  readonly bin?: string;
  /** Create the `meridian` system user when it is missing (host installs only). */
  readonly createUser: boolean;
  /** Overwrite an installed agent.json that differs from the one given. */
  readonly force: boolean;
}

/** Options of {@link uninstallAgent}. */
export interface UninstallOptions {
  readonly root?: string;
  /** Also remove the config and the state (credentials, snapshot, workload keys). */
  readonly purge: boolean;
}

/** A path of the target system, under `root` when there is one. */
const under = (root: string | undefined, path: string): string => (root === undefined ? path : join(root, path));

/**
 * Installs the agent as a systemd service: the hardened unit, the sysusers entry, the config in
 * /etc/meridian and the state directories (0700). Idempotent; returns one line per step. On the
 * host (no `root`) it also creates the system user and reloads systemd when systemd runs.
 */
export function installAgent(options: InstallOptions): string[] {
  const at = (path: string): string => under(options.root, path);
  const bin = options.bin ?? installedBin(at(INSTALLED_AGENT.unitFile)) ?? (options.root === undefined ? findInstalledBin() : INSTALLED_AGENT.bin);
  if (!isAbsolute(bin)) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--bin ${bin}: must be an absolute path (the unit's ExecStart)`);
  if (options.root === undefined) assertExecutable(bin);
  const config = configToInstall(at(INSTALLED_AGENT.configFile), options);
  const report = [
    writeFile(at(INSTALLED_AGENT.unitFile), renderAgentUnit({ exec: bin, privilegedPort: config.privilegedPort })),
    writeFile(at(INSTALLED_AGENT.sysusersFile), `${SYSUSERS_LINE}\n`),
  ];
  ensureDir(at(INSTALLED_AGENT.configDir), 0o755);
  report.push(writeFile(at(INSTALLED_AGENT.configFile), config.text));
  for (const dir of [INSTALLED_AGENT.stateDir, INSTALLED_AGENT.dataDir, INSTALLED_AGENT.credentialsDir]) {
    ensureDir(at(dir), 0o700);
    report.push(`directory ${at(dir)} (0700)`);
  }
  if (options.root === undefined) report.push(...prepareHost(options.createUser));
  else report.push(`--root ${options.root}: the host's users and systemd were left alone`);
  report.push(`ExecStart runs ${bin}`);
  if (config.privilegedPort) report.push('a port below 1024 is configured: the unit grants CAP_NET_BIND_SERVICE');
  return report;
}

/** The config text to write: the given file completed for the installed layout, or the installed one as it is. */
function configToInstall(installedPath: string, options: InstallOptions): InstalledConfig {
  const installed = existsSync(installedPath) ? readFileSync(installedPath, 'utf8') : undefined;
  if (options.configFile === undefined) {
    if (installed === undefined) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--config is required: ${installedPath} is not installed yet\nusage: meridian agent install --config <agent.json>`);
    }
    return { ...installedConfig(readJsonFile(installedPath), installedPath), text: installed };
  }
  const config = installedConfig(readJsonFile(options.configFile), options.configFile);
  if (installed !== undefined && installed !== config.text && !options.force) {
    throw new MeridianError(
      'MERIDIAN_ERR_CONFLICT',
      `${installedPath} differs from what --config ${options.configFile} would install (edited since the last install?): nothing was changed; pass --force to overwrite it`,
    );
  }
  return config;
}

/** The host's part: the system user owning the state, and systemd's view of the new unit. */
function prepareHost(createUser: boolean): string[] {
  const report: string[] = [];
  const found = createUser ? undefined : lookupUser(INSTALLED_AGENT.user);
  const user = createUser ? ensureServiceUser() : found === undefined ? undefined : { created: false, ...found };
  if (user === undefined) {
    report.push(`--no-user: no user ${INSTALLED_AGENT.user} yet; systemd-sysusers (run at boot, or by hand) creates it from ${INSTALLED_AGENT.sysusersFile}`);
  } else {
    if (user.created) report.push(`created system user ${INSTALLED_AGENT.user}`);
    // `meridian agent join` (as root) gives each file the owner of its directory: the service user.
    for (const dir of [INSTALLED_AGENT.stateDir, INSTALLED_AGENT.dataDir, INSTALLED_AGENT.credentialsDir]) chownSync(dir, user.uid, user.gid);
  }
  if (systemdIsRunning()) {
    systemctl(['daemon-reload']);
    report.push('systemctl daemon-reload');
  } else {
    report.push('systemd is not running here: no daemon-reload');
  }
  return report;
}

/**
 * Removes the unit and the sysusers entry (stopping the service first when systemd runs); the
 * config and the state stay unless `purge`. The system user stays (its uid may own files elsewhere).
 */
export function uninstallAgent(options: UninstallOptions): string[] {
  const at = (path: string): string => under(options.root, path);
  const host = options.root === undefined && systemdIsRunning();
  const report: string[] = [];
  if (host && existsSync(INSTALLED_AGENT.unitFile)) {
    systemctl(['disable', '--now', INSTALLED_AGENT.unitName]);
    report.push(`stopped and disabled ${INSTALLED_AGENT.unitName}`);
  }
  for (const file of [INSTALLED_AGENT.unitFile, INSTALLED_AGENT.sysusersFile]) report.push(remove(at(file)));
  if (options.purge) {
    report.push(remove(at(INSTALLED_AGENT.configDir)), remove(at(INSTALLED_AGENT.stateDir)));
  } else {
    report.push(`kept ${at(INSTALLED_AGENT.configDir)} (config) and ${at(INSTALLED_AGENT.stateDir)} (credentials, snapshot): --purge removes them`);
  }
  if (host) {
    systemctl(['daemon-reload']);
    report.push('systemctl daemon-reload');
  }
  if (options.root === undefined) report.push(`kept the system user ${INSTALLED_AGENT.user} (userdel ${INSTALLED_AGENT.user} removes it)`);
  return report;
}

/** The binary an installed unit runs (a re-install without --bin keeps it). */
function installedBin(unitFile: string): string | undefined {
  if (!existsSync(unitFile)) return undefined;
  return /^ExecStart=(\S+) /m.exec(readFileSync(unitFile, 'utf8'))?.[1];
}

function assertExecutable(path: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--bin ${path}: not an executable file; pass the installed meridian's path (command -v meridian)`, { cause });
  }
}

/** Creates `path` with `mode` (its missing parents 0755, as /var and /etc are) and fixes the mode of an existing one. */
function ensureDir(path: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  mkdirSync(path, { recursive: true, mode });
  chmodSync(path, mode);
}

/** Writes `text` (0644) by an atomic rename unless the file already holds it; says which. */
function writeFile(path: string, text: string): string {
  if (existsSync(path) && readText(path, 'installed file') === text) return `unchanged ${path}`;
  // Missing parents get 0755, as /etc and /usr/lib are.
  writeFileAtomic(path, text, { mode: 0o644, dirMode: 0o755 });
  return `wrote ${path}`;
}

function remove(path: string): string {
  if (!existsSync(path)) return `absent ${path}`;
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot remove: ${(cause as Error).message}`, { cause });
  }
  return `removed ${path}`;
}
