import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  buildCertificate,
  createRootAuthority,
  createSiteAuthority,
  generatePrivateKey,
  type KeyedCertificate,
  type RootAuthority,
  type SiteAuthority,
} from '../../../shared/identity/index.js';

/** A trust domain with two sites, built in memory for a test file. */
export interface TestTrustDomain {
  root: RootAuthority;
  eu: { authority: SiteAuthority; privateKey: KeyObject };
  us: { authority: SiteAuthority; privateKey: KeyObject };
}

export function makeTrustDomain(trustDomain = 'acme.internal'): TestTrustDomain {
  const root = createRootAuthority({ trustDomain });
  return { root, eu: createSiteAuthority(root, 'eu'), us: createSiteAuthority(root, 'us') };
}

/**
 * Forges a leaf with the site CA's key, bypassing the issuance policy: this is what a
 * compromised or buggy signer could produce, and what verification must still reject.
 */
export function forgeLeaf(
  site: { authority: SiteAuthority; privateKey: KeyObject },
  options: { uris: string[]; usages?: readonly string[] | 'none'; notBefore?: Date; notAfter?: Date },
): KeyedCertificate {
  const privateKey = generatePrivateKey();
  const now = Date.now();
  const certificate: X509Certificate = buildCertificate({
    subjectKey: privateKey,
    commonName: 'forged',
    notBefore: options.notBefore ?? new Date(now - 60_000),
    notAfter: options.notAfter ?? new Date(now + 3_600_000),
    uris: options.uris,
    ...(options.usages === 'none' ? {} : { usages: options.usages ?? ['client', 'server'] }),
    issuer: { privateKey: site.privateKey, certificate: site.authority.certificate, commonName: `${site.authority.site} site CA`, organization: site.authority.trustDomain },
  });
  return { privateKey, certificate, chain: [certificate, site.authority.certificate] };
}
