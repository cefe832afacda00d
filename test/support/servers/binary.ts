import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { MeridianError } from '../../../shared/errors/index.js';

/**
 * Debian puts nats-server in /usr/sbin, which is often missing from a non-root PATH, so these
 * are searched after PATH.
 */
export const SYSTEM_BINARY_DIRS: readonly string[] = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];

/** Options of {@link findBinary}. */
export interface FindBinaryOptions {
  /** Environment to read PATH and the override variable from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Name of the variable that overrides the lookup: `MERIDIAN_` + the binary name in upper case
 * with non-alphanumerics as `_` (MERIDIAN_NATS_SERVER, MERIDIAN_REDIS_SERVER).
 */
export function binaryEnvVar(name: string): string {
  return `MERIDIAN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * Absolute path of an executable: the override variable when set (it must point at an
 * executable file), else the first match on PATH, then in {@link SYSTEM_BINARY_DIRS}.
 * Throws MERIDIAN_ERR_BINARY_MISSING naming the binary and the package to install.
 */
export function findBinary(name: string, options: FindBinaryOptions = {}): string {
  const env = options.env ?? process.env;
  const envVar = binaryEnvVar(name);
  const override = env[envVar];
  if (override !== undefined && override !== '') {
    const path = resolve(override);
    if (isExecutableFile(path)) return path;
    throw new MeridianError(
      'MERIDIAN_ERR_BINARY_MISSING',
      `${name} not found at ${path} (from ${envVar}); ${installHint(name)}, or point ${envVar} at the binary`,
      { details: { binary: name, envVar, path } },
    );
  }
  const searched = [...(env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...SYSTEM_BINARY_DIRS];
  for (const dir of new Set(searched)) {
    const path = join(dir, name);
    if (isExecutableFile(path)) return path;
  }
  throw new MeridianError(
    'MERIDIAN_ERR_BINARY_MISSING',
    `${name} not found on PATH or in ${SYSTEM_BINARY_DIRS.join(', ')}; ${installHint(name)}, or set ${envVar} to its path`,
    { details: { binary: name, envVar, searched: [...new Set(searched)] } },
  );
}

/** Debian/Ubuntu packages of binaries whose package has another name (nats-server and redis-server are their own). */
const PACKAGE_OF: Readonly<Record<string, string>> = { 'systemd-analyze': 'systemd', unshare: 'util-linux', dig: 'bind9-dnsutils' };

function installHint(name: string): string {
  return `install it with: apt-get install ${PACKAGE_OF[name] ?? name} (run apt-get update first on a fresh machine)`;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
