import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { optionalString, requireString, type Command } from './index.js';
import { DEFAULT_PKI_DIR } from '../shared/config/index.js';
import { MeridianError, isMeridianError } from '../shared/errors/index.js';
import { PkiDirectory, assertTrustDomain } from '../shared/identity/index.js';
import { formatViolation, parsePolicySet, type PolicySet, type PolicySource, type PolicyViolation } from '../shared/policy/index.js';
import { applyPolicy, diffPolicySets, policyHistory, readLatestPolicy, readPolicyVersion, rollbackPolicy, type ApplyResult, type PolicyRecord } from '../shared/policy/distribution/index.js';
import { renderTable } from '../shared/text/index.js';
import { readAtSite, withPolicyAccess, versionArgument } from './policy-access.js';
import { WHERE, whereOptions } from './token.js';

/** FILE, or every *.yaml / *.yml directly in DIR, sorted by name (so the order, and the messages, are stable). */
export function readSources(path: string): PolicySource[] {
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

/** Prints every violation of an invalid set (stderr) and gives exit code 1; any other error goes on. */
function reportInvalid(error: unknown, io: { err(line: string): void }): number {
  if (!isMeridianError(error, 'MERIDIAN_ERR_POLICY_INVALID')) throw error;
  const violations = (error.details?.violations ?? []) as PolicyViolation[];
  io.err(`policy set invalid: ${violations.length} violation${violations.length === 1 ? '' : 's'}; nothing applied`);
  for (const violation of violations) io.err(formatViolation(violation));
  return 1;
}

function outcome(result: ApplyResult): string {
  const { record } = result;
  if (result.outcome === 'unchanged') return `unchanged: version ${record.version} already has this policy set (${record.digest})`;
  return `policy version ${record.version} applied${record.rollbackOf === undefined ? '' : ` (rollback of version ${record.rollbackOf})`}, based on ${record.basedOn ?? 'none'}, digest ${record.digest}`;
}

const apply: Command = {
  group: 'policy',
  name: 'apply',
  summary: 'publish a policy set as the next version for every site (refused whole when invalid or when another apply won)',
  usage: `meridian policy apply -f <file.yaml | dir> [--expect-version N] ${WHERE}`,
  options: { ...whereOptions, file: { type: 'string', short: 'f' }, 'expect-version': { type: 'string' } },
  async run(args, io) {
    // Stored by file name only: the layout of the applying host means nothing to the others.
    const sources = readSources(requireString(args, 'file', apply)).map((s) => ({ file: basename(s.file), text: s.text }));
    const expected = versionArgument(optionalString(args, 'expect-version'), '--expect-version', apply);
    try {
      const result = await withPolicyAccess(args, apply, (access) =>
        applyPolicy(access.nc, { sources, trustDomain: access.trustDomain, appliedBy: access.appliedBy, ...(expected === undefined ? {} : { expectedVersion: expected }) }),
      );
      io.out(outcome(result));
      return 0;
    } catch (error) {
      return reportInvalid(error, io);
    }
  },
};

/** The sources of a version as one multi-document YAML stream (apply -f of it gives the same set). */
function printSources(record: PolicyRecord, io: { out(line: string): void }): void {
  record.sources.forEach((source, index) => {
    if (index > 0) io.out('---');
    io.out(`# ${source.file}`);
    io.out(source.text.replace(/\n$/, ''));
  });
}

const get: Command = {
  group: 'policy',
  name: 'get',
  summary: "print the YAML of the latest policy version (or --version N), as the site's mirror holds it",
  usage: `meridian policy get [--version N] ${WHERE}`,
  options: { ...whereOptions, version: { type: 'string' } },
  async run(args, io) {
    const version = versionArgument(optionalString(args, 'version'), '--version', get);
    const record = await withPolicyAccess(args, get, (access) =>
      readAtSite(access, (at) => (version === undefined ? readLatestPolicy(access.nc, at) : readPolicyVersion(access.nc, version, at))),
    );
    if (record === null) {
      io.err('no policy set is published yet: every verified caller may call every service');
      return 0;
    }
    io.err(`policy version ${record.version}, digest ${record.digest}, applied ${record.appliedAt} by ${record.appliedBy.who}@${record.appliedBy.site}`);
    printSources(record, io);
    return 0;
  },
};

const diff: Command = {
  group: 'policy',
  name: 'diff',
  summary: 'compare a policy set with the version the site enforces, per document (exit 0: no difference, 1: differences)',
  usage: `meridian policy diff -f <file.yaml | dir> ${WHERE}`,
  options: { ...whereOptions, file: { type: 'string', short: 'f' } },
  async run(args, io) {
    const sources = readSources(requireString(args, 'file', diff));
    const { latest, local } = await withPolicyAccess(args, diff, async (access) => {
      const record = await readAtSite(access, (at) => readLatestPolicy(access.nc, at));
      const parse = (s: readonly PolicySource[]): PolicySet => parsePolicySet(s, { trustDomain: access.trustDomain });
      return { latest: record === null ? null : { record, set: parse(record.sources) }, local: parse(sources) };
    });
    const changes = diffPolicySets(latest?.set ?? null, local);
    const sign = { added: '+', removed: '-', changed: '~' } as const;
    for (const change of changes) io.out(`${sign[change.change]} ${change.kind}/${change.name}  (${change.change})`);
    io.err(`${changes.length === 0 ? 'no difference' : `${changes.length} document${changes.length === 1 ? '' : 's'} differ`} from ${latest === null ? 'no published policy' : `version ${latest.record.version}`}`);
    return changes.length === 0 ? 0 : 1;
  },
};

const history: Command = {
  group: 'policy',
  name: 'history',
  summary: 'list the latest policy versions: version, digest, when, by whom, rollback of',
  usage: `meridian policy history [--limit 20] ${WHERE}   (the last 1 000 versions are kept)`,
  options: { ...whereOptions, limit: { type: 'string', default: '20' } },
  async run(args, io) {
    const limit = versionArgument(optionalString(args, 'limit') ?? '20', '--limit', history) ?? 20;
    const records = await withPolicyAccess(args, history, (access) => readAtSite(access, (at) => policyHistory(access.nc, { ...at, limit })));
    if (records.length === 0) io.err('no policy set is published yet');
    const rows = records.map((r) => [String(r.version), r.digest.slice(0, 19), r.appliedAt, `${r.appliedBy.who}@${r.appliedBy.site}`, r.rollbackOf === undefined ? '' : String(r.rollbackOf)]);
    io.out(renderTable(['VERSION', 'DIGEST', 'APPLIED AT', 'APPLIED BY', 'ROLLBACK OF'], rows));
    return 0;
  },
};

const rollback: Command = {
  group: 'policy',
  name: 'rollback',
  summary: 'apply the sources of an earlier version again, as a new version',
  usage: `meridian policy rollback <VERSION> ${WHERE}`,
  options: whereOptions,
  async run(args, io) {
    const version = versionArgument(args.positionals[0], 'VERSION', rollback);
    if (version === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a version is required\nusage: ${rollback.usage}`);
    const result = await withPolicyAccess(args, rollback, (access) => rollbackPolicy(access.nc, { version, trustDomain: access.trustDomain, appliedBy: access.appliedBy }));
    io.out(outcome(result));
    return 0;
  },
};

/** `meridian policy validate/apply/get/diff/history/rollback`. */
export const policyCommands: readonly Command[] = [validate, apply, get, diff, history, rollback];
