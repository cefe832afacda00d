import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MeridianError } from '../errors/index.js';
import { assertBearerToken } from './bearer.js';

/** What a server knows about its token file. */
export interface TokenFile {
  readonly token: string;
  /** True when this call created the file (first start). */
  readonly created: boolean;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `cannot read the ${what} file ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Refuses anything but a regular file that only its owner may read and write. */
function checkMode(path: string, what: string): void {
  const stat = statSync(path);
  if (!stat.isFile()) throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: the ${what} file is not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new MeridianError('MERIDIAN_ERR_FILE_PERMISSIONS', `${path}: the ${what} file is readable or writable by group or others (mode ${mode}); run chmod 600 ${path}`);
  }
}

/**
 * The token a server authenticates its clients with: read from `path`, or created there on first
 * start (a random 256-bit token, mode 0600, its directory 0700). Refuses to go on with a file that
 * group or others may read or write (MERIDIAN_ERR_FILE_PERMISSIONS), or with a short token.
 */
export function loadOrCreateTokenFile(path: string, what: string): TokenFile {
  let created = false;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // 'wx': never follows or truncates a file someone else put there first.
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new MeridianError('MERIDIAN_ERR_FILE_IO', `cannot create the ${what} file ${path}: ${(cause as Error).message}`, { cause });
    }
  }
  checkMode(path, what);
  return { token: assertBearerToken(read(path, what), `${path}: the ${what}`), created };
}

/** A client's side: the token in `path` (trimmed); errors name the file. */
export function readTokenFile(path: string, what: string): string {
  const token = read(path, what);
  if (token === '') throw new MeridianError('MERIDIAN_ERR_CONFIG_INVALID', `the ${what} file ${path} is empty`);
  return token;
}
