import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findBinary } from './servers/index.js';
import { spawnWatched, type MeridianChild } from './secure-site.js';

/**
 * systemd stand-ins for tests: `systemd-analyze verify` on a unit file, and a unit's service
 * started the way systemd would start it, on a machine where systemd is not PID 1.
 */

/** What `systemd-analyze verify <unit>` said: it exits 0 on mere warnings, so both count. */
export function verifyUnit(unitFile: string): { code: number | null; output: string } {
  const result = spawnSync(findBinary('systemd-analyze'), ['verify', unitFile], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/** The parts of a unit's [Service] section that decide how its process starts. */
export interface ServiceStart {
  /** ExecStart split into argv (the contract's unit has no quoting). */
  readonly execStart: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly workingDirectory: string;
}

/** Reads ExecStart, Environment and WorkingDirectory from a unit's text. */
export function serviceStart(unitText: string): ServiceStart {
  const values = (key: string): string[] =>
    unitText
      .split('\n')
      .filter((line) => line.startsWith(`${key}=`))
      .map((line) => line.slice(key.length + 1));
  const [execStart, ...more] = values('ExecStart');
  if (execStart === undefined || more.length > 0 || /["'\\]/.test(execStart)) throw new Error(`expected one unquoted ExecStart in:\n${unitText}`);
  const environment = Object.fromEntries(
    values('Environment')
      .flatMap((line) => line.split(' '))
      .map((assignment) => [assignment.slice(0, assignment.indexOf('=')), assignment.slice(assignment.indexOf('=') + 1)]),
  );
  return { execStart: execStart.split(' '), environment, workingDirectory: values('WorkingDirectory')[0] ?? '/' };
}

/** systemd's PATH for system services (systemd.exec(5)). */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

/** Options of {@link startUnitService}. */
export interface UnitServiceOptions {
  /** The directory the unit was installed under (`meridian agent install --root`). */
  readonly root: string;
  readonly start: ServiceStart;
  /** Target-system directories the service reads and writes (e.g. /etc/meridian, /var/lib/meridian). */
  readonly paths: readonly string[];
}

/**
 * Starts a unit's ExecStart exactly as written, with only the unit's Environment (plus systemd's
 * PATH and the HOME of the service user) in its WorkingDirectory. systemd is not PID 1 on the
 * test machines, so the process runs as the current user, not as `User=`, and without the
 * sandboxing directives; a private mount namespace (overlays on the parents, bind mounts of the
 * installed directories) shows it `root`'s files at their target paths (/etc/meridian,
 * /var/lib/meridian) without touching the host's. ExecStart's binary stays the host's.
 */
export function startUnitService(options: UnitServiceOptions): MeridianChild {
  const { start } = options;
  const mounts = targetPathMounts(options.root, options.paths);
  // Node may live outside systemd's PATH on a developer's machine (nvm); on a VM it is in /usr/bin.
  const path = `${SYSTEMD_PATH}:${dirname(process.execPath)}`;
  const environment = Object.entries({ PATH: path, HOME: start.workingDirectory, ...start.environment }).map(([key, value]) => quote(`${key}=${value}`));
  const script = [...mounts, `cd ${quote(start.workingDirectory)}`, `exec env -i ${environment.join(' ')} "$@"`].join(' && ');
  // unshare and sh exec in place: the child's PID is the agent's, so signals reach it as systemd's would.
  return spawnWatched(findBinary('unshare'), [...privateMounts(), '--', 'sh', '-c', script, 'sh', ...start.execStart], { label: start.execStart.join(' ') });
}

/** Shell commands showing `root`'s `paths` at their target paths: an overlay on each parent, then a bind mount (writes land in `root`). */
function targetPathMounts(root: string, paths: readonly string[]): string[] {
  return paths.map((path) => {
    const parent = dirname(path);
    return `mount -t overlay overlay -o lowerdir=${quote(`${join(root, parent)}:${parent}`)} ${quote(parent)} && mount --bind ${quote(join(root, path))} ${quote(path)}`;
  });
}

/**
 * Runs `argv` as an operator of the installed host would with sudo (e.g. `meridian agent join`):
 * as root (of a user namespace when the test is not root), with this process's environment, in
 * the same kind of private mount namespace as {@link startUnitService}, so it reads and writes
 * `root`'s files at their target paths, where the service will find them.
 */
export function runAtTargetPaths(options: { root: string; paths: readonly string[]; argv: readonly string[] }): MeridianChild {
  const script = [...targetPathMounts(options.root, options.paths), 'exec "$@"'].join(' && ');
  return spawnWatched(findBinary('unshare'), [...privateMounts(), '--', 'sh', '-c', script, 'sh', ...options.argv], { label: options.argv.join(' ') });
}

/**
 * unshare's flags for a mount namespace whose mounts never reach the host (in a user namespace
 * when not root). `--propagation private` remounts `/`, which fails (EINVAL) where `/` is not a
 * mount point, as in a chroot; where no mount of this namespace is shared, nothing can propagate
 * anyway, so the propagation is left as it is there.
 */
function privateMounts(): string[] {
  const propagation = anySharedMount() ? 'private' : 'unchanged';
  return process.getuid?.() === 0 ? ['--mount', '--propagation', propagation] : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
}

/** Whether a mount of this mount namespace is in a shared peer group (mountinfo's `shared:N` tag). */
function anySharedMount(): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => / shared:\d+/.test(line));
}

/** What a command run on an overlaid host did, and where its writes went. */
export interface OverlaidRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Where a write to `path` (under one of the overlaid directories) landed. */
  upper(path: string): string;
}

/**
 * Runs `command` as if on this host, with `paths` (e.g. /etc, /usr/lib, /var) writable through
 * overlays whose upper layers live in `dir`: what it writes (users in /etc/passwd, units, state)
 * lands there, and the host's own files stay as they were. A systemd running the host is hidden
 * from it (an empty /run/systemd).
 */
export function runOnOverlaidHost(options: { dir: string; paths: readonly string[]; command: readonly string[] }): OverlaidRun {
  const upper = (path: string): string => join(options.dir, 'upper', path);
  const mounts = options.paths.map((path) => {
    const work = join(options.dir, 'work', path);
    mkdirSync(upper(path), { recursive: true });
    mkdirSync(work, { recursive: true });
    return `mount -t overlay overlay -o ${quote(`lowerdir=${path},upperdir=${upper(path)},workdir=${work}`)} ${quote(path)}`;
  });
  // Hides a running systemd (sd_booted looks for /run/systemd/system): nothing reaches the host's.
  const script = [...mounts, 'if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; fi', 'exec "$@"'].join(' && ');
  const result = spawnSync(findBinary('unshare'), [...privateMounts(), '--', 'sh', '-c', script, 'sh', ...options.command], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, upper };
}
