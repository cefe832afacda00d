import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { certificateFacts } from '../../../shared/identity/index.js';
import { runCliSync, type CliResult } from '../../support/cli.js';
import { useTempDir } from '../../support/harness.js';

const work = useTempDir('meridian-cli-');

function meridian(...args: string[]): CliResult {
  return runCliSync(args, { cwd: work, timeoutMs: 20_000 });
}

const mode = (path: string): number => statSync(join(work, path)).mode & 0o777;
const pki = 'meridian-data/pki';

describe('meridian ca', () => {
  it('creates a root, a site CA and identities, keys readable by their owner only', () => {
    const initResult = meridian('ca', 'init', '--trust-domain', 'acme.internal');
    assert.equal(initResult.code, 0, initResult.stderr);
    assert.match(initResult.stdout, /trust domain acme.internal: root CA created/);
    assert.equal(meridian('ca', 'site', 'eu-k8s').code, 0);
    const issued = meridian('ca', 'issue', '--site', 'eu-k8s', '--kind', 'svc', '--name', 'payments');
    assert.equal(issued.code, 0, issued.stderr);
    assert.match(issued.stdout, /^spiffe:\/\/acme.internal\/site\/eu-k8s\/svc\/payments: key /);
    for (const key of ['root/ca.key', 'sites/eu-k8s/ca.key', 'sites/eu-k8s/svc/payments.key']) assert.equal(mode(`${pki}/${key}`), 0o600, key);
    assert.equal(mode(`${pki}/sites/eu-k8s`), 0o700);
    const siteCa = new X509Certificate(readFileSync(join(work, pki, 'sites/eu-k8s/ca.crt')));
    assert.deepEqual(certificateFacts(siteCa).uris, ['spiffe://acme.internal/site/eu-k8s']);
    assert.equal(certificateFacts(siteCa).pathLength, 0);
  });

  it('signs a CSR made elsewhere without ever seeing its key', () => {
    const made = meridian('ca', 'csr', '--trust-domain', 'acme.internal', '--site', 'eu-k8s', '--kind', 'gateway', '--name', 'gw-1', '--out', 'remote');
    assert.equal(made.code, 0, made.stderr);
    assert.equal(mode('remote/key.pem'), 0o600);
    const signed = meridian('ca', 'issue', '--site', 'eu-k8s', '--csr', 'remote/request.csr', '--out', 'remote/chain.pem', '--ttl', '1h');
    assert.equal(signed.code, 0, signed.stderr);
    const leaf = new X509Certificate(readFileSync(join(work, 'remote/chain.pem')));
    assert.deepEqual(certificateFacts(leaf).uris, ['spiffe://acme.internal/site/eu-k8s/gateway/gw-1']);
    const lifetime = new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();
    assert.equal(lifetime, 3_600_000 + 60_000);
  });

  it('reports bad input with the exact error, exit code 2, and changes nothing', () => {
    const before = readFileSync(join(work, pki, 'root/ca.crt'), 'utf8');
    const cases: [string[], string][] = [
      [['ca', 'init', '--trust-domain', 'acme.internal'], 'MERIDIAN_ERR_BAD_ARGUMENT: meridian-data/pki/root/ca.key already exists'],
      [['ca', 'init', '--trust-domain', 'Bad_TD'], 'MERIDIAN_ERR_BAD_ARGUMENT: trust domain "Bad_TD" is invalid'],
      [['ca', 'issue', '--site', 'us', '--kind', 'svc', '--name', 'a'], "site us has no CA in meridian-data/pki: run 'meridian ca site us' first"],
      [['ca', 'issue', '--site', 'eu-k8s', '--kind', 'db', '--name', 'a'], '--kind must be one of svc, gateway, agent (got "db")'],
      [['ca', 'issue', '--site', 'eu-k8s', '--kind', 'svc', '--name', 'a', '--ttl', 'soon'], '--ttl: "soon" is not a duration'],
      [['ca', 'init', '--bogus'], "Unknown option '--bogus'"],
      [['ca', 'issue', '--site', 'eu-k8s', '--kind', 'svc', '--name', 'a', '--out', 'a.pem'], '--out cannot be used here: it names where a signed CSR\'s chain goes'],
      [['ca', 'issue', '--site', 'eu-k8s', '--csr', 'remote/request.csr', '--out', 'x.pem', '--name', 'other'], '--name cannot be used here: the identity comes from the CSR'],
    ];
    for (const [args, message] of cases) {
      const result = meridian(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(result.stderr.includes(message), `${args.join(' ')}: ${result.stderr}`);
    }
    const foreign = meridian('ca', 'csr', '--trust-domain', 'acme.internal', '--site', 'us', '--kind', 'svc', '--name', 'x', '--out', 'foreign');
    assert.equal(foreign.code, 0);
    const refused = meridian('ca', 'issue', '--site', 'eu-k8s', '--csr', 'foreign/request.csr', '--out', 'foreign/chain.pem');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /MERIDIAN_ERR_SITE_SCOPE: csr.subjectAltName: site CA of eu-k8s may not issue spiffe:\/\/acme.internal\/site\/us\/svc\/x/);
    assert.equal(readFileSync(join(work, pki, 'root/ca.crt'), 'utf8'), before);
    assert.throws(() => statSync(join(work, 'foreign/chain.pem')), /ENOENT/);
    for (const file of ['a.pem', 'x.pem', `${pki}/sites/eu-k8s/svc/a.key`]) assert.throws(() => statSync(join(work, file)), /ENOENT/, file);
  });
});

describe('meridian ca rotate, ca site --renew, ca status', () => {
  const dir = useTempDir('meridian-cli-rotate-');
  const run = (...args: string[]): CliResult => runCliSync(['ca', ...args, '--dir', 'pki'], { cwd: dir, timeoutMs: 20_000 });
  const bundle = (): string => readFileSync(join(dir, 'pki/bundle.pem'), 'utf8');

  it('rotates the root end to end as the README says, refusing misuse with exit 1 or 2 and changing nothing then', () => {
    assert.equal(run('init', '--trust-domain', 'acme.internal').code, 0);
    assert.equal(run('site', 'eu').code, 0);
    const idle = bundle();
    const misuse: [string[], number, string][] = [
      [['rotate', 'finish'], 1, "MERIDIAN_ERR_ROTATION_NOT_STARTED: no root rotation is under way in pki: run 'meridian ca rotate start' first"],
      [['rotate'], 2, 'MERIDIAN_ERR_BAD_ARGUMENT: a step is required: start or finish (got "")'],
      [['rotate', 'begin'], 2, 'MERIDIAN_ERR_BAD_ARGUMENT: a step is required: start or finish (got "begin")'],
      [['rotate', 'start', '--force'], 2, "MERIDIAN_ERR_BAD_ARGUMENT: --force cannot be used with 'rotate start'"],
      [['site', 'eu'], 1, 'MERIDIAN_ERR_CONFLICT: site eu already has a CA (pki/sites/eu/ca.crt): pass --renew to re-issue it'],
      [['site', 'eu', '--keep-key'], 2, 'MERIDIAN_ERR_BAD_ARGUMENT: --keep-key needs --renew'],
      [['site', 'us', '--renew'], 2, "MERIDIAN_ERR_BAD_ARGUMENT: site us has no CA in pki: run 'meridian ca site us' first"],
    ];
    for (const [args, code, message] of misuse) {
      const result = run(...args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(result.stderr.includes(`meridian: ${message}`), `${args.join(' ')}: ${result.stderr}`);
    }
    assert.equal(bundle(), idle);

    const started = run('rotate', 'start');
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^root rotation started: next root [0-9a-f]{16} \(root\/next, key 0600\)/);
    assert.equal(statSync(join(dir, 'pki/root/next/ca.key')).mode & 0o777, 0o600);
    const both = bundle();
    const again = run('rotate', 'start');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /MERIDIAN_ERR_ROTATION_IN_PROGRESS: a root rotation is already under way in pki \(next root [0-9a-f]{16}\)/);
    const early = run('rotate', 'finish');
    assert.equal(early.code, 1);
    assert.match(early.stderr, /MERIDIAN_ERR_ROTATION_INCOMPLETE: cannot finish the root rotation: site CAs still chain to the root being retired \([0-9a-f]{16}\): eu: run 'meridian ca site <site> --renew' for each \(or pass --force\)/);
    assert.equal(bundle(), both);

    const renewed = run('site', 'eu', '--renew');
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.match(renewed.stdout, /^site eu: CA renewed \(new key\) under root [0-9a-f]{16}, expires .*; previous CA [0-9a-f]{16} kept in pki\/sites\/eu\/retired-[0-9a-f]{16}\n$/);
    const status = JSON.parse(run('status', '--json').stdout) as { rotating: boolean; roots: { role: string }[]; sites: { site: string; underSigningRoot: boolean }[] };
    assert.deepEqual([status.rotating, status.roots.map((r) => r.role), status.sites], [true, ['retiring', 'signing'], [status.sites[0]]]);
    assert.equal(status.sites[0]?.underSigningRoot, true);
    const tooSoon = run('rotate', 'finish');
    assert.equal(tooSoon.code, 1);
    assert.match(tooSoon.stderr, /MERIDIAN_ERR_ROTATION_INCOMPLETE: cannot finish the root rotation: site eu: leaves its previous CA signed may be valid until .* \(leaf lifetime 24h\): finish after that \(or pass --force\)/);

    const finished = run('rotate', 'finish', '--leaf-ttl', '0s');
    assert.equal(finished.code, 0, finished.stderr);
    assert.match(finished.stdout, /^root rotation finished: root [0-9a-f]{16} signs; the old root is kept in pki\/root\/retired-[0-9a-f]{16}/);
    assert.equal((bundle().match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
    const text = run('status');
    assert.match(text.stdout, /^trust domain acme.internal: no rotation under way; bundle version 3\n {2}root [0-9a-f]{16} {2}signing {3}expires /);
  });
});
