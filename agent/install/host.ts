import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { MeridianError } from '../../shared/errors/index.js';
import { INSTALLED_AGENT } from './layout.js';

/**
 * What `meridian agent install` does to the host itself, never under `--root`: the service's
 * system user and systemd's view of the unit files.
 */

/** Whether systemd runs this machine (sd_booted(3): /run/systemd/system exists only then). */
export function systemdIsRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/** The uid and gid of a user in /etc/passwd, or undefined. */
export function lookupUser(name: string, passwd = '/etc/passwd'): { uid: number; gid: number } | undefined {
  const text = existsSync(passwd) ? readFileSync(passwd, 'utf8') : '';
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** Creates the `meridian` system user as the sysusers file describes it, when it is missing. */
export function ensureServiceUser(): { created: boolean; uid: number; gid: number } {
  const existing = lookupUser(INSTALLED_AGENT.user);
  if (existing !== undefined) return { created: false, ...existing };
  run('useradd', ['--system', '--user-group', '--home-dir', INSTALLED_AGENT.stateDir, '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'Meridian agent', INSTALLED_AGENT.user]);
  const created = lookupUser(INSTALLED_AGENT.user);
  if (created === undefined) throw new MeridianError('MERIDIAN_ERR_INTERNAL', `useradd ran but /etc/passwd has no user ${INSTALLED_AGENT.user}`);
  return { created: true, ...created };
}

/** `systemctl <args>`; a failure names the command and systemctl's own message. */
export function systemctl(args: readonly string[]): void {
  run('systemctl', args);
}

function run(command: string, args: readonly string[]): void {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (cause) {
    const stderr = (cause as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new MeridianError('MERIDIAN_ERR_PROCESS_START', `${command} ${args.join(' ')} failed: ${stderr || (cause as Error).message}`, { cause });
  }
}

/**
 * The installed `meridian` for the unit's ExecStart on this host: /usr/local/bin/meridian (npm's
 * global bin with Debian's npm), else the first `meridian` on PATH (NodeSource's npm installs
 * into /usr/bin).
 */
export function findInstalledBin(path = process.env.PATH ?? ''): string {
  const candidates = [INSTALLED_AGENT.bin, ...path.split(delimiter).filter((dir) => isAbsolute(dir)).map((dir) => join(dir, 'meridian'))];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `no executable meridian at ${INSTALLED_AGENT.bin} or on PATH: pass --bin <absolute path of the installed meridian>`);
}
