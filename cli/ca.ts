import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { optionalString, requireString, type Command, type ParsedArgs } from './index.js';
import { DEFAULT_PKI_DIR, parseDuration } from '../shared/config/index.js';
import { MeridianError } from '../shared/errors/index.js';
import { createCsr } from '../shared/identity/csr.js';
import { readText, writeCertificates, writePrivateKey, writeText } from '../shared/identity/files.js';
import { generatePrivateKey } from '../shared/identity/keys.js';
import { PkiDirectory, shortFingerprint } from '../shared/identity/pki-directory.js';
import { renewSiteCa } from '../shared/identity/rotation.js';
import { caRotationCommands } from './ca-rotate.js';
import { formatSpiffeId } from '../shared/identity/spiffe.js';
import type { IdentityKind } from '../shared/identity/types.js';

const dirOption = { dir: { type: 'string' as const, default: DEFAULT_PKI_DIR } };
const KINDS: readonly IdentityKind[] = ['svc', 'gateway', 'agent'];

function pki(values: Readonly<Record<string, string | boolean | undefined>>): PkiDirectory {
  return new PkiDirectory(typeof values.dir === 'string' ? values.dir : DEFAULT_PKI_DIR);
}

function kindOf(value: string): IdentityKind {
  if (!KINDS.includes(value as IdentityKind)) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--kind must be one of ${KINDS.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as IdentityKind;
}

function expiry(certificatePem: { validTo: string }): string {
  return new Date(certificatePem.validTo).toISOString();
}

const init: Command = {
  group: 'ca',
  name: 'init',
  summary: 'create the trust domain root CA',
  usage: 'meridian ca init --trust-domain <td> [--dir <pki dir>] [--algorithm ec-p256|rsa-2048]',
  options: { ...dirOption, 'trust-domain': { type: 'string' }, algorithm: { type: 'string', default: 'ec-p256' } },
  run(args, io) {
    const algorithm = String(args.values.algorithm);
    if (algorithm !== 'ec-p256' && algorithm !== 'rsa-2048') {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--algorithm must be ec-p256 or rsa-2048 (got ${JSON.stringify(algorithm)})`);
    }
    const dir = pki(args.values);
    const root = dir.initRoot({ trustDomain: requireString(args, 'trust-domain', init), algorithm });
    io.out(`trust domain ${root.trustDomain}: root CA created in ${dir.dir} (key 0600), expires ${expiry(root.certificate)}`);
    io.out(`trust bundle: ${dir.bundlePath}`);
    return 0;
  },
};

const site: Command = {
  group: 'ca',
  name: 'site',
  summary: "issue a site's intermediate CA, or renew it (--renew)",
  usage:
    'meridian ca site <site> [--dir <pki dir>] [--csr <site CA csr made at the site>]\n' +
    '       meridian ca site <site> --renew [--keep-key | --csr <new csr made at the site>] [--dir <pki dir>]\n' +
    '  --renew re-issues the site CA under the signing root (the next root while a rotation is under way), with a new key\n' +
    '  unless --keep-key; the previous CA is kept in sites/<site>/retired-<fingerprint>/. The running control service picks it up.',
  options: { ...dirOption, csr: { type: 'string' }, renew: { type: 'boolean' }, 'keep-key': { type: 'boolean' } },
  run(args, io) {
    const name = args.positionals[0];
    if (name === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `a site name is required\nusage: ${site.usage}`);
    const dir = pki(args.values);
    const csrPath = optionalString(args, 'csr');
    const csrText = csrPath === undefined ? undefined : readText(csrPath, 'CSR');
    if (args.values.renew === true) {
      const renewed = renewSiteCa(dir, name, { ...(csrText === undefined ? {} : { csr: csrText }), keepKey: args.values['keep-key'] === true });
      const key = csrText !== undefined ? 'key at the site' : args.values['keep-key'] === true ? 'same key' : 'new key';
      io.out(`site ${name}: CA renewed (${key}) under root ${shortFingerprint(renewed.signedBy)}, expires ${expiry(renewed.certificate)}; previous CA ${shortFingerprint(renewed.previous)} kept in ${renewed.retiredDir}`);
      return 0;
    }
    if (args.values['keep-key'] === true) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--keep-key needs --renew\nusage: ${site.usage}`);
    if (existsSync(dir.sitePaths(name).cert)) {
      throw new MeridianError('MERIDIAN_ERR_CONFLICT', `site ${name} already has a CA (${dir.sitePaths(name).cert}): pass --renew to re-issue it`);
    }
    if (csrText === undefined) dir.createSite(name);
    else dir.signSiteCsr(name, csrText);
    const authority = dir.loadSiteCertificate(name);
    io.out(`site ${name}: CA ${dir.sitePaths(name).cert} (path length 0), expires ${expiry(authority)}`);
    return 0;
  },
};

const issue: Command = {
  group: 'ca',
  name: 'issue',
  summary: 'issue a workload, gateway or agent certificate',
  usage: 'meridian ca issue --site <site> --kind svc|gateway|agent --name <name> [--csr <file> --out <file>] [--ttl 24h] [--dir <pki dir>]',
  options: { ...dirOption, site: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' }, csr: { type: 'string' }, out: { type: 'string' }, ttl: { type: 'string', default: '24h' } },
  run(args, io) {
    const dir = pki(args.values);
    const siteName = requireString(args, 'site', issue);
    const ttlMs = parseDuration(String(args.values.ttl), '--ttl');
    const csrPath = optionalString(args, 'csr');
    refuseIgnoredFlags(args, csrPath !== undefined);
    if (csrPath !== undefined) {
      const issued = dir.signLeafCsr(siteName, readText(csrPath, 'CSR'), ttlMs);
      const out = requireString(args, 'out', issue);
      writeCertificates(out, issued.chain);
      io.out(`${issued.identity.uri}: certificate chain written to ${out}, expires ${expiry(issued.certificate)}`);
      return 0;
    }
    const issued = dir.issueIdentity(siteName, kindOf(requireString(args, 'kind', issue)), requireString(args, 'name', issue), ttlMs);
    io.out(`${issued.identity.uri}: key ${issued.keyPath} (0600), certificate ${issued.certPath}, expires ${expiry(issued.certificate)}`);
    return 0;
  },
};

/** `--out` belongs to signing a CSR, `--kind`/`--name` to issuing here: a flag that would be ignored is refused. */
function refuseIgnoredFlags(args: ParsedArgs, signingCsr: boolean): void {
  const stray = signingCsr ? ['kind', 'name'].filter((flag) => args.values[flag] !== undefined) : args.values.out === undefined ? [] : ['out'];
  if (stray.length === 0) return;
  const why = signingCsr
    ? 'the identity comes from the CSR'
    : 'it names where a signed CSR\'s chain goes; without --csr the key and certificate are written to the PKI directory';
  throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${stray.map((f) => `--${f}`).join(' and ')} cannot be used here: ${why}\nusage: ${issue.usage}`);
}

const csr: Command = {
  group: 'ca',
  name: 'csr',
  summary: 'create a key and CSR where the key will live (a site CA or an identity)',
  usage: 'meridian ca csr --trust-domain <td> --site <site> [--kind svc|gateway|agent --name <name>] --out <dir>',
  options: { 'trust-domain': { type: 'string' }, site: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' }, out: { type: 'string' } },
  run(args, io) {
    const kindFlag = optionalString(args, 'kind');
    const kind = kindFlag === undefined ? undefined : kindOf(kindFlag);
    const siteName = requireString(args, 'site', csr);
    const uri = formatSpiffeId(requireString(args, 'trust-domain', csr), siteName, kind, kind === undefined ? undefined : requireString(args, 'name', csr));
    const out = requireString(args, 'out', csr);
    const privateKey = generatePrivateKey();
    writePrivateKey(join(out, 'key.pem'), privateKey);
    writeText(join(out, 'request.csr'), createCsr({ privateKey, commonName: kind === undefined ? `${siteName} site CA` : String(args.values.name), uris: [uri] }));
    io.out(`${uri}: key ${join(out, 'key.pem')} (0600), CSR ${join(out, 'request.csr')}`);
    return 0;
  },
};

/** `meridian ca ...`: the trust domain's certificate authority commands. */
export const caCommands: readonly Command[] = [init, site, issue, csr, ...caRotationCommands];
