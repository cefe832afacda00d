import { sign, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { MeridianError } from '../errors/index.js';
import { TrustBundle, chainToPem, parseCertificates } from './bundle.js';
import { certificateFacts } from './certificate-facts.js';
import { parseSpiffeId } from './spiffe.js';

/**
 * The trust document a site's control service publishes (JetStream KV bucket
 * `meridian-trust-<site>`, key `bundle`) and its agents and gateways apply: the roots of the
 * trust domain, signed by the site CA so a writer to the bucket cannot hand out roots.
 */
export interface TrustDocument {
  readonly trustDomain: string;
  /** Integer >= 1; a receiver never applies a version lower than or equal to the last it applied. */
  readonly version: number;
  /** PEM roots. */
  readonly bundle: string;
  /** PEM chain of the signer: the site CA certificate, then its root. */
  readonly signer: string;
  /** base64 signature by the site CA key over the UTF-8 bytes of JSON.stringify({ trustDomain, version, bundle }). */
  readonly signature: string;
}

/** The key of the document in its bucket. */
export const TRUST_DOCUMENT_KEY = 'bundle';
/** Larger values are refused unread: a bundle of a few roots is a few KiB. */
export const MAX_TRUST_DOCUMENT_BYTES = 256 * 1024;

/** The KV bucket of a site's trust document. */
export function trustBucketName(site: string): string {
  return `meridian-trust-${site}`;
}

function signedBytes(document: Pick<TrustDocument, 'trustDomain' | 'version' | 'bundle'>): Buffer {
  return Buffer.from(JSON.stringify({ trustDomain: document.trustDomain, version: document.version, bundle: document.bundle }), 'utf8');
}

/** Ed25519/Ed448 keys sign the message itself; RSA and ECDSA keys a SHA-256 digest. */
function digestFor(key: KeyObject): 'sha256' | null {
  return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
}

/** The JSON text of a signed trust document (what the control service writes to the bucket). */
export function encodeTrustDocument(options: { trustDomain: string; version: number; bundle: string; signer: { privateKey: KeyObject; chain: readonly X509Certificate[] } }): string {
  const body = { trustDomain: options.trustDomain, version: options.version, bundle: options.bundle };
  const signature = sign(digestFor(options.signer.privateKey), signedBytes(body), options.signer.privateKey).toString('base64');
  const document: TrustDocument = { ...body, signer: chainToPem(options.signer.chain), signature };
  return JSON.stringify(document);
}

/** What a receiver checks a document against: its own site, its current bundle, the last version it applied. */
export interface TrustDocumentExpectation {
  readonly site: string;
  readonly bundle: TrustBundle;
  readonly lastVersion: number;
}

function refused(message: string, cause?: unknown): MeridianError {
  return new MeridianError('MERIDIAN_ERR_TRUST_DOCUMENT', `trust document: ${message}`, cause === undefined ? {} : { cause });
}

function parseDocument(raw: Uint8Array | string): TrustDocument {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > MAX_TRUST_DOCUMENT_BYTES) throw refused(`${size} bytes is over the ${MAX_TRUST_DOCUMENT_BYTES}-byte limit`);
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch (cause) {
    throw refused('is not JSON', cause);
  }
  const doc = value as Partial<Record<keyof TrustDocument, unknown>> | null;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw refused('must be a JSON object');
  for (const field of ['trustDomain', 'bundle', 'signer', 'signature'] as const) {
    if (typeof doc[field] !== 'string' || doc[field] === '') throw refused(`/${field} must be a non-empty string`);
  }
  if (typeof doc.version !== 'number' || !Number.isSafeInteger(doc.version) || doc.version < 1) throw refused('/version must be an integer >= 1');
  return doc as TrustDocument;
}

/** The site CA that signed: a CA certificate of exactly `site`, chaining to a root of the receiver's current bundle. */
function checkSigner(document: TrustDocument, expected: TrustDocumentExpectation): X509Certificate {
  const [siteCa] = parseCertificates(document.signer, 'trust document /signer');
  if (siteCa === undefined) throw refused('/signer holds no certificate');
  const facts = certificateFacts(siteCa);
  const uri = facts.uris.length === 1 ? facts.uris[0] : undefined;
  let id;
  try {
    id = parseSpiffeId(uri ?? '', expected.bundle.trustDomain);
  } catch (cause) {
    throw refused(`/signer is not a site CA of ${expected.bundle.trustDomain}`, cause);
  }
  if (!facts.isCa || id.kind !== 'site' || id.site !== expected.site) throw refused(`/signer ${id.uri} is not the CA of site ${expected.site}`);
  const now = Date.now();
  if (now < Date.parse(siteCa.validFrom) || now > Date.parse(siteCa.validTo)) throw refused(`/signer site CA is not valid now (valid ${siteCa.validFrom} to ${siteCa.validTo})`);
  if (expected.bundle.issuerOf(siteCa) === undefined) throw refused(`/signer site CA of ${expected.site} does not chain to a root of the current bundle`);
  return siteCa;
}

/**
 * Checks a received trust document by the receiver rules (size, shape, trust domain, version
 * above the last applied, signer = the receiver's own site CA under its current bundle, signature)
 * and returns the bundle it carries. Refusals are MERIDIAN_ERR_TRUST_DOCUMENT naming the reason.
 */
export function verifyTrustDocument(raw: Uint8Array | string, expected: TrustDocumentExpectation): { version: number; bundle: TrustBundle } {
  const document = parseDocument(raw);
  if (document.trustDomain !== expected.bundle.trustDomain) throw refused(`/trustDomain ${document.trustDomain} is not ${expected.bundle.trustDomain}`);
  if (document.version <= expected.lastVersion) throw refused(`/version ${document.version} is not above the applied version ${expected.lastVersion}`);
  const siteCa = checkSigner(document, expected);
  let valid = false;
  try {
    valid = verify(digestFor(siteCa.publicKey), signedBytes(document), siteCa.publicKey, Buffer.from(document.signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) throw refused(`/signature does not verify with the key of the site CA of ${expected.site}`);
  let bundle: TrustBundle;
  try {
    bundle = TrustBundle.fromPem(expected.bundle.trustDomain, document.bundle, 'trust document /bundle');
  } catch (cause) {
    throw refused(`/bundle: ${(cause as Error).message}`, cause);
  }
  return { version: document.version, bundle };
}
