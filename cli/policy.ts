import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { optionalString, requireString, type Command } from './index.js';
import { DEFAULT_PKI_DIR } from '../shared/config/index.js';
import { MeridianError, isMeridianError } from '../shared/errors/index.js';
import { PkiDirectory, assertTrustDomain } from '../shared/identity/index.js';
import { formatViolation, parsePolicySet, type PolicySet, type PolicySource, type PolicyViolation } from '../shared/policy/index.js';

/** FILE, or every *.yaml / *.yml directly in DIR, sorted by name (so the order, and the messages, are stable). */
function readSources(path: string): PolicySource[] {
  try {
    if (!statSync(path).isDirectory()) return [{ file: path, text: readFileSync(path, 'utf8') }];
    const names = readdirSync(path).filter((name) => /\.ya?ml$/.test(name)).sort();
    if (names.length === 0) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `-f ${path}: no *.yaml or *.yml file in this directory`);
    return names.map((name) => ({ file: join(path, name), text: readFileSync(join(path, name), 'utf8') }));
  } catch (cause) {
    if (isMeridianError(cause)) throw cause;
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `-f ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** --trust-domain, else the trust domain of the PKI dir (`meridian ca init` wrote it). */
function trustDomainOf(flag: string | undefined, dir: string): string {
  if (flag !== undefined) {
    assertTrustDomain(flag);
    return flag;
  }
  try {
    return new PkiDirectory(dir).trustDomain();
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--trust-domain <td> is required (no trust domain in ${dir}: ${(cause as Error).message})`, { cause });
  }
}

function summary(set: PolicySet, files: number): string[] {
  const rules = set.authorizations.reduce((n, doc) => n + doc.spec.rules.length, 0);
  const entries = set.revocations.reduce((n, doc) => n + doc.spec.entries.length, 0);
  return [
    `policy set valid: ${files} file${files === 1 ? '' : 's'}, trust domain ${set.trustDomain}`,
    `  Authorization   ${set.authorizations.length} (${rules} rules)`,
    `  Revocation      ${set.revocations.length} (${entries} entries)`,
    `  PolicyDefaults  ${set.defaults.metadata.name === 'built-in' ? '0 (built-in' : `1 (${set.defaults.metadata.name}`}: default ${set.defaults.spec.defaultAction}, mTLS ${set.defaults.spec.mtls.mode ?? 'strict'})`,
    `digest ${set.digest}`,
  ];
}

const validate: Command = {
  group: 'policy',
  name: 'validate',
  summary: 'check a policy set offline: parse and validate every document, print a summary or every violation',
  usage: 'meridian policy validate -f <file.yaml | dir> [--trust-domain <td> | --dir <pki dir>]   (exit 1 when invalid)',
  options: { file: { type: 'string', short: 'f' }, 'trust-domain': { type: 'string' }, dir: { type: 'string', default: DEFAULT_PKI_DIR } },
  run(args, io) {
    const path = requireString(args, 'file', validate);
    const trustDomain = trustDomainOf(optionalString(args, 'trust-domain'), optionalString(args, 'dir') ?? DEFAULT_PKI_DIR);
    const sources = readSources(path);
    try {
      for (const line of summary(parsePolicySet(sources, { trustDomain }), sources.length)) io.out(line);
      return 0;
    } catch (error) {
      if (!isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID')) throw error;
      const violations = (error.details?.violations ?? []) as PolicyViolation[];
      io.err(`policy set invalid: ${violations.length} violation${violations.length === 1 ? '' : 's'}`);
      for (const violation of violations) io.err(formatViolation(violation));
      return 1;
    }
  },
};

/** `meridian policy validate`. Distribution (apply, get, diff, history, rollback) comes with the control services. */
export const policyCommands: readonly Command[] = [validate];
