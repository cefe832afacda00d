import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MeridianError } from '../errors/index.js';

/**
 * Writes a credential file atomically with mode 0600: a temp file beside it, fsync, rename, so
 * a reader (the agent, a renewal racing a join) sees the old file or the new one, never half of
 * one. When run as root, the file takes the owner of its directory: `meridian agent join` runs as
 * root and the agent's service user must read what it wrote.
 */
export function writeSecretFile(path: string, content: string): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (process.getuid?.() === 0) {
      const owner = statSync(dir);
      chownSync(temp, owner.uid, owner.gid);
    }
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `${path}: cannot write (${(cause as Error).message})`, { cause });
  }
}
