import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (this file runs from dist/test/support/). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** `bin/meridian`, the launcher a user runs, for end-to-end tests of the installed command. */
export const MERIDIAN_BIN = join(REPO_ROOT, 'bin/meridian');

/** The built `meridian` entry point (what bin/meridian runs), next to this file's build output. */
export const CLI_PATH = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** What a CLI run ended with. `code` is null when the run was killed (its timeout). */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `meridian <args>` to completion, blocking: for commands that need no server of this process. */
export function runCliSync(args: readonly string[], options: { cwd?: string; timeoutMs: number }): CliResult {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: options.timeoutMs, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `meridian <args>` with `env` added to this process's environment, without blocking the event loop (30 s bound). */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
