import { SiteAuthority, issueSiteCa, type IssuedCertificate, type RootAuthority } from './authority.js';
import { TrustBundle } from './bundle.js';
import { createCsr } from './csr.js';
import { generatePrivateKey } from './keys.js';
import { formatSpiffeId } from './spiffe.js';
import type { IdentityKind, KeyAlgorithm, KeyedCertificate } from './types.js';

/**
 * Key generation and CSR in one step, where the key's owner and the signer share a process
 * (the demo, tests, `meridian ca` on the CA host). The private key is created here and only the
 * CSR reaches the signer, exactly as across a network.
 */
export function createSiteAuthority(root: RootAuthority, site: string, options: { bundle?: TrustBundle; ttlMs?: number; now?: Date } = {}): {
  authority: SiteAuthority;
  privateKey: KeyedCertificate['privateKey'];
} {
  const privateKey = generatePrivateKey();
  const csr = createCsr({ privateKey, commonName: `${site} site CA`, uris: [formatSpiffeId(root.trustDomain, site)] });
  const certificate = issueSiteCa(root, { site, csr, ...optional(options) });
  const bundle = options.bundle ?? new TrustBundle(root.trustDomain, [root.certificate]);
  return { authority: new SiteAuthority({ privateKey, certificate, bundle }), privateKey };
}

/** Generates a key for a workload, gateway or agent and has the site authority sign it. */
export function issueLocalIdentity(
  authority: SiteAuthority,
  kind: IdentityKind,
  name: string,
  options: { algorithm?: KeyAlgorithm; ttlMs?: number; now?: Date } = {},
): KeyedCertificate & IssuedCertificate {
  const privateKey = generatePrivateKey(options.algorithm);
  const uri = formatSpiffeId(authority.trustDomain, authority.site, kind, name);
  const issued = authority.issue({ csr: createCsr({ privateKey, commonName: name, uris: [uri] }), ...optional(options) });
  return { ...issued, privateKey, chain: issued.chain };
}

function optional(options: { ttlMs?: number; now?: Date }): { ttlMs?: number; now?: Date } {
  return {
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
}
