import { optionalString, type Command, type CommandIo, type ParsedArgs } from './index.js';
import { DEFAULT_PKI_DIR, parseDuration } from '../shared/config/index.js';
import { MeridianError } from '../shared/errors/index.js';
import { PkiDirectory, finishRootRotation, pkiStatus, shortFingerprint, startRootRotation } from '../shared/identity/index.js';
import type { KeyAlgorithm } from '../shared/identity/types.js';

const STEPS = ['start', 'finish'] as const;

function pki(args: ParsedArgs): PkiDirectory {
  return new PkiDirectory(optionalString(args, 'dir') ?? DEFAULT_PKI_DIR);
}

/** `--force`/`--leaf-ttl` belong to finish, `--algorithm` to start: a flag the step would ignore is refused. */
function refuseStrayFlags(args: ParsedArgs, step: (typeof STEPS)[number]): void {
  const stray = step === 'start' ? ['force', 'leaf-ttl'].filter((f) => args.values[f] !== undefined && args.values[f] !== false) : args.values.algorithm === undefined ? [] : ['algorithm'];
  if (stray.length > 0) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${stray.map((f) => `--${f}`).join(' and ')} cannot be used with 'rotate ${step}'\nusage: ${rotate.usage}`);
}

function algorithmOf(args: ParsedArgs): KeyAlgorithm | undefined {
  const value = optionalString(args, 'algorithm');
  if (value === undefined || value === 'ec-p256' || value === 'rsa-2048') return value;
  throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--algorithm must be ec-p256 or rsa-2048 (got ${JSON.stringify(value)})`);
}

function start(args: ParsedArgs, io: CommandIo): number {
  const dir = pki(args);
  const algorithm = algorithmOf(args);
  const { next, resumed } = startRootRotation(dir, algorithm === undefined ? {} : { algorithm });
  io.out(`root rotation ${resumed ? 'resumed' : 'started'}: next root ${shortFingerprint(next.certificate)} (root/next, key 0600), expires ${new Date(next.certificate.validTo).toISOString()}`);
  io.out(`trust bundle ${dir.bundlePath}: the current root and the next root (version ${dir.bundleVersion()}); control services publish it within a second`);
  io.out("next: once every process runs with the new bundle, run 'meridian ca site <site> --renew' for each site, then 'meridian ca rotate finish'");
  return 0;
}

function finish(args: ParsedArgs, io: CommandIo): number {
  const dir = pki(args);
  const leafTtl = optionalString(args, 'leaf-ttl');
  const finished = finishRootRotation(dir, {
    force: args.values.force === true,
    ...(leafTtl === undefined ? {} : { leafTtlMs: parseDuration(leafTtl, '--leaf-ttl') }),
  });
  for (const reason of finished.overridden) io.err(`meridian: warning: --force overrides: ${reason}`);
  const retired = finished.retiredDir === undefined ? '' : `; the old root is kept in ${finished.retiredDir}`;
  io.out(`root rotation ${finished.resumed ? 'completed (resumed)' : 'finished'}: root ${shortFingerprint(finished.root)} signs${retired}`);
  io.out(`trust bundle ${dir.bundlePath}: the new root only (version ${dir.bundleVersion()}); control services publish it within a second`);
  return 0;
}

const rotate: Command = {
  group: 'ca',
  name: 'rotate',
  summary: 'rotate the root CA: start (add the next root to the bundle), finish (retire the old root)',
  usage:
    'meridian ca rotate start [--algorithm ec-p256|rsa-2048] [--dir <pki dir>]\n       meridian ca rotate finish [--leaf-ttl 24h] [--force] [--dir <pki dir>]\n' +
    "  start: creates the next root (root/next/); bundle.pem = current root + next root; new site CAs are signed by the next root.\n" +
    "  finish: the next root becomes the root, the old one is kept in root/retired-<fingerprint>/; bundle.pem = new root only.\n" +
    '          Refused while a site CA still chains to the old root, or a site CA was renewed less than --leaf-ttl (the longest leaf lifetime) ago.',
  options: { dir: { type: 'string' }, algorithm: { type: 'string' }, force: { type: 'boolean' }, 'leaf-ttl': { type: 'string' } },
  run(args, io) {
    const step = args.positionals[0];
    if (args.positionals.length !== 1 || !STEPS.includes(step as (typeof STEPS)[number])) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a step is required: start or finish (got ${JSON.stringify(args.positionals.join(' '))})\nusage: ${rotate.usage}`);
    }
    refuseStrayFlags(args, step as (typeof STEPS)[number]);
    return step === 'start' ? start(args, io) : finish(args, io);
  },
};

const status: Command = {
  group: 'ca',
  name: 'status',
  summary: 'show the roots of the trust bundle, which one signs, and each site CA with its root and expiry',
  usage: 'meridian ca status [--json] [--dir <pki dir>]',
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  run(args, io) {
    const report = pkiStatus(pki(args));
    if (args.values.json === true) {
      io.out(JSON.stringify(report, null, 2));
      return 0;
    }
    io.out(`trust domain ${report.trustDomain}: ${report.rotating ? 'root rotation under way' : 'no rotation under way'}; bundle version ${report.bundleVersion}`);
    for (const root of report.roots) io.out(`  root ${root.fingerprint}  ${root.role.padEnd(8)}  expires ${root.expires}`);
    for (const site of report.sites) {
      const chain = site.root === undefined ? 'chains to NO root of the bundle' : `root ${site.root}`;
      const todo = site.underSigningRoot ? '' : `  (renew: meridian ca site ${site.site} --renew)`;
      io.out(`  site ${site.site}  CA ${site.fingerprint}  ${chain}  expires ${site.expires}${todo}`);
    }
    return 0;
  },
};

/** `meridian ca rotate` and `meridian ca status`. */
export const caRotationCommands: readonly Command[] = [rotate, status];
