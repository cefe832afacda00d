import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runOnOverlaidHost } from './systemd.js';

/** What a cloud-init run on an overlaid host did. */
export interface CloudInitRun {
  readonly code: number | null;
  readonly output: string;
  /** Each systemctl call's arguments, in order (systemd is not PID 1 on the test machines). */
  readonly systemctl: readonly string[];
  /** Where a write to `path` landed. */
  upper(path: string): string;
}

/** The host directories cloud-init and the bootstraps write (users, units, /usr/local, state, /run). */
const HOST_PATHS = ['/etc', '/usr/lib', '/usr/local', '/var', '/run'];

/**
 * cloud-init's part of a `#cloud-config` on an overlaid copy of this host (`dir` keeps its writes,
 * so a second run sees the first's): its write_files with their modes, then its runcmd, or
 * `rerun` instead of both (an operator running the bootstrap again). systemctl is a recorder.
 */
export function runCloudInit(options: { dir: string; userData: string; rerun?: string }): CloudInitRun {
  const stage = join(options.dir, 'stage');
  const log = join(stage, 'systemctl.log');
  mkdirSync(join(stage, 'bin'), { recursive: true });
  writeFileSync(join(stage, 'bin/systemctl'), `#!/bin/sh\necho "$*" >> ${log}\n`);
  chmodSync(join(stage, 'bin/systemctl'), 0o755);
  writeFileSync(log, '');
  const cloud = parseYaml(options.userData) as { write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] };
  const steps = options.rerun !== undefined ? [] : cloud.write_files.map((file, i) => {
    writeFileSync(join(stage, `file-${i}`), file.content);
    return `mkdir -p "$(dirname ${file.path})" && cp ${join(stage, `file-${i}`)} ${file.path} && chmod ${file.permissions} ${file.path}`;
  });
  steps.push(`PATH=${join(stage, 'bin')}:$PATH ${options.rerun ?? cloud.runcmd.map((command) => command.join(' ')).join(' && ')}`);
  writeFileSync(join(stage, 'run.sh'), `set -e\n${steps.join('\n')}\n`);
  const host = runOnOverlaidHost({ dir: join(options.dir, 'host'), paths: HOST_PATHS, command: ['sh', join(stage, 'run.sh')] });
  const systemctl = readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
  return { code: host.code, output: `${host.stdout}${host.stderr}`, systemctl, upper: (path) => host.upper(path) };
}
