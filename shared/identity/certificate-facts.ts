import type { X509Certificate } from 'node:crypto';
import * as der from './der.js';
import type { CertificateFacts } from './types.js';

const EXTENSIONS_TAG = 3;
const CACHE_LIMIT = 4096;
// Keyed by fingerprint: every TLS handshake yields a new X509Certificate object for the same peer.
const cache = new Map<string, CertificateFacts>();

/**
 * Reads the SANs, CA flag and extended key usages of a certificate from its DER encoding,
 * structurally: Node exposes the SAN only as display text, which must never be parsed.
 */
export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  const key = certificate.fingerprint256;
  const known = cache.get(key);
  if (known !== undefined) return known;
  const tbs = der.children(der.fromDer(certificate.raw, 'certificate'))[0];
  const extensionsNode = der
    .children(tbs)
    .find((node) => der.isContext(node, EXTENSIONS_TAG));
  const facts = Object.freeze(der.factsFromExtensions(der.readExtensions(der.children(extensionsNode)[0] ?? der.seq([]))));
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, facts);
  return facts;
}
