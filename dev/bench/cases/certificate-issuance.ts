import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import {
  createCsr,
  createRootAuthority,
  createSiteAuthority,
  formatSpiffeId,
  generatePrivateKey,
  type KeyAlgorithm,
  type SiteAuthority,
} from '../../../shared/identity/index.js';
import { median, ratePerCpuSecond } from '../measure.js';
import type { BenchCase, BenchRow } from '../types.js';

const ROUNDS = 5;
const ISSUES_PER_ROUND = 300;
const FORGE_PER_ROUND = 15;

const KEY_POOL = 8;

/**
 * CSRs are made by the requesters, so key generation is not part of the signer's cost; a small
 * key pool keeps RSA key generation from dominating the run.
 */
function csrs(authority: SiteAuthority, algorithm: KeyAlgorithm, count: number): string[] {
  const keys = Array.from({ length: KEY_POOL }, () => generatePrivateKey(algorithm));
  return Array.from({ length: count }, (_, i) =>
    createCsr({ privateKey: keys[i % KEY_POOL] ?? generatePrivateKey(algorithm), commonName: `w${i}`, uris: [formatSpiffeId(authority.trustDomain, authority.site, 'svc', `w${i}`)] }),
  );
}

function meridianRate(authority: SiteAuthority, algorithm: KeyAlgorithm): number {
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const requests = csrs(authority, algorithm, ISSUES_PER_ROUND);
    rounds.push(ratePerCpuSecond(requests.length, () => requests.forEach((csr) => authority.issue({ csr }))).perCpuSecond);
  }
  return median(rounds);
}

/** The baseline: the same leaf built and signed by node-forge alone (RSA-2048, its only signer). */
function forgeRate(): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const leafKey = forge.pki.setRsaPublicKey(caKey.n, caKey.e);
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rounds.push(
      ratePerCpuSecond(FORGE_PER_ROUND, () => {
        for (let i = 0; i < FORGE_PER_ROUND; i++) {
          const cert = forge.pki.createCertificate();
          cert.publicKey = leafKey;
          cert.serialNumber = `01${i.toString(16).padStart(4, '0')}`;
          cert.validity.notBefore = new Date();
          cert.validity.notAfter = new Date(Date.now() + 86_400_000);
          cert.setSubject([{ name: 'commonName', value: `w${i}` }]);
          cert.setIssuer([{ name: 'commonName', value: 'eu site CA' }]);
          cert.setExtensions([
            { name: 'basicConstraints', cA: false },
            { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
            { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
            { name: 'subjectAltName', altNames: [{ type: 6, value: `spiffe://acme.internal/site/eu/svc/w${i}` }] },
          ]);
          cert.sign(caKey, forge.md.sha256.create());
        }
      }).perCpuSecond,
    );
  }
  return median(rounds);
}

export const certificateIssuance: BenchCase = {
  name: 'pki.issuance',
  description: 'leaf issuance from a CSR (policy checks, node-forge ASN.1, native signing) vs node-forge RSA signing',
  run(): Promise<BenchRow[]> {
    const root = createRootAuthority({ trustDomain: 'acme.internal' });
    const { authority } = createSiteAuthority(root, 'eu');
    const baseline = forgeRate();
    const row = (metric: string, value: number): BenchRow => ({
      case: 'pki.issuance',
      metric,
      value: Math.round(value),
      unit: 'certs/s/core',
      baseline: 'node-forge RSA-2048 sign',
      baselineValue: Math.round(baseline),
      ratio: value / baseline,
      target: metric.startsWith('ec-p256') ? '>= 200' : '',
    });
    return Promise.resolve([row('ec-p256 issue from CSR', meridianRate(authority, 'ec-p256')), row('rsa-2048 issue from CSR', meridianRate(authority, 'rsa-2048'))]);
  },
};
