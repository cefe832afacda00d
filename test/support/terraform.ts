import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

/** What did not run when terraform is missing: named in the failure so CI logs say it. */
export const TERRAFORM_CHECKS =
  'terraform fmt -check, terraform init -backend=false + validate and terraform test of terraform/modules/site, ' +
  'terraform/modules/vm-agent and terraform/examples/three-sites, and systemd-analyze verify of the rendered units';

/** Debian does not package Terraform: the install instruction is HashiCorp's apt repository. */
export const TERRAFORM_INSTALL =
  'install Terraform >= 1.9: wget -O- https://apt.releases.hashicorp.com/gpg | sudo gpg --dearmor -o /usr/share/keyrings/hashicorp-archive-keyring.gpg && ' +
  'echo "deb [signed-by=/usr/share/keyrings/hashicorp-archive-keyring.gpg] https://apt.releases.hashicorp.com $(lsb_release -cs) main" | sudo tee /etc/apt/sources.list.d/hashicorp.list && ' +
  'sudo apt-get update && sudo apt-get install -y terraform (or https://developer.hashicorp.com/terraform/install)';

/** What a command ended with. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A copy of the repository's terraform/ in a temp dir, run with a CLI config that can download nothing. */
export interface TerraformWorkspace {
  /** The copied terraform/ folder. */
  readonly root: string;
  /** Runs `terraform <args>` in `dir` (relative to the copy), without colour or prompts. */
  run(dir: string, args: readonly string[], timeoutMs?: number): RunResult;
}

/** Whether `terraform` runs here; the reason when it does not. */
export function terraformAvailable(): { ok: true; version: string } | { ok: false; reason: string } {
  const result = spawnSync('terraform', ['version', '-json'], { encoding: 'utf8', timeout: 20_000, env: offlineEnv('/dev/null') });
  if (result.error !== undefined || result.status !== 0) {
    return { ok: false, reason: `terraform not found or not runnable (${result.error?.message ?? result.stderr.trim()})` };
  }
  return { ok: true, version: (JSON.parse(result.stdout) as { terraform_version: string }).terraform_version };
}

/** The message a test fails with when terraform is missing: what did not run and how to install it. */
export function terraformMissingMessage(reason: string): string {
  return `${reason}: ${TERRAFORM_CHECKS} did not run; ${TERRAFORM_INSTALL}`;
}

function offlineEnv(cliConfig: string): NodeJS.ProcessEnv {
  return { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0' };
}

/**
 * Copies terraform/ into `dir` (the repository keeps no .terraform folders) with a CLI config whose
 * only provider source is an empty filesystem mirror: any provider download fails the run.
 */
export function terraformWorkspace(dir: string): TerraformWorkspace {
  const root = join(dir, 'terraform');
  cpSync(join(REPO_ROOT, 'terraform'), root, { recursive: true, filter: (src) => !src.includes('.terraform') && !src.endsWith('.tfstate') });
  const mirror = join(dir, 'empty-provider-mirror');
  mkdirSync(mirror);
  const cliConfig = join(dir, 'offline.tfrc');
  writeFileSync(cliConfig, `disable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["*/*/*"]\n  }\n}\n`);
  const env = { ...offlineEnv(cliConfig), TF_CLI_ARGS: '-no-color' };
  return {
    root,
    run(sub, args, timeoutMs = 120_000) {
      const result = spawnSync('terraform', [...args], { cwd: join(root, sub), encoding: 'utf8', timeout: timeoutMs, env });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

/** Runs a command to completion (bounded); for tools other than terraform. */
export function runTool(command: string, args: readonly string[], timeoutMs = 30_000): RunResult & { missing: boolean } {
  const result = spawnSync(command, [...args], { encoding: 'utf8', timeout: timeoutMs });
  const missing = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', missing };
}
