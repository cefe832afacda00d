import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { MeridianError } from '../errors/index.js';
import * as der from './der.js';
import { assertAcceptedPublicKey, signatureAlgorithm, spkiDer } from './keys.js';
import type { CertificateFacts } from './types.js';

/** A certificate signing request after its signature was checked. */
export interface ParsedCsr {
  readonly publicKey: KeyObject;
  readonly commonName: string | undefined;
  /** What the requester asked for in its extensionRequest attribute. */
  readonly requested: CertificateFacts;
}

/**
 * Creates a PKCS#10 CSR for `uris` signed by `privateKey`. `extraExtensions` exists for tests
 * that must prove the signer refuses what a hostile requester asks for.
 */
export function createCsr(options: {
  privateKey: KeyObject;
  commonName: string;
  uris: readonly string[];
  extraExtensions?: readonly { id: string; value: forge.asn1.Asn1 }[];
}): string {
  const extensions = [
    der.seq([der.oid(der.OID.subjectAltName), der.octets(der.toDer(der.uriGeneralNames(options.uris)))]),
    ...(options.extraExtensions ?? []).map((e) => der.seq([der.oid(e.id), der.octets(der.toDer(e.value))])),
  ];
  const attributes = forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    der.seq([der.oid(der.OID.extensionRequest), der.set([der.seq(extensions)])]),
  ]);
  const info = der.seq([
    der.smallInteger(0),
    der.distinguishedName(options.commonName),
    forge.asn1.fromDer(spkiDer(options.privateKey).toString('binary')),
    attributes,
  ]);
  const infoDer = der.toDer(info);
  const algorithm = signatureAlgorithm(options.privateKey);
  const algorithmId = der.seq(algorithm.nullParams ? [der.oid(algorithm.oid), der.nullValue()] : [der.oid(algorithm.oid)]);
  const signature = sign('sha256', infoDer, options.privateKey);
  const csrDer = der.toDer(der.seq([info, algorithmId, der.bitString(signature)]));
  return toPem(csrDer, 'CERTIFICATE REQUEST');
}

/** Parses a PEM CSR, checks its proof of possession and reads the requested extensions. */
export function parseCsr(pem: string): ParsedCsr {
  try {
    return parseCsrDer(fromPem(pem, 'CERTIFICATE REQUEST'));
  } catch (cause) {
    if (cause instanceof MeridianError) throw cause;
    throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', 'csr: malformed request', { cause });
  }
}

function parseCsrDer(csrDer: Buffer): ParsedCsr {
  const [info, algorithmNode, signatureNode] = der.children(der.fromDer(csrDer, 'csr', 'MERIDIAN_ERR_CSR_INVALID'));
  const [, subject, spki, attributes] = der.children(info);
  if (spki === undefined || signatureNode === undefined) throw csrError('csr: missing fields');
  const publicKey = readPublicKey(spki);
  assertAcceptedPublicKey(publicKey, 'csr.subjectPublicKeyInfo');
  const algorithm = der.children(algorithmNode)[0];
  if (algorithm === undefined || der.readOid(algorithm) !== signatureAlgorithm(publicKey).oid) {
    throw csrError('csr.signatureAlgorithm: must be ecdsa-with-SHA256 for P-256 keys or sha256WithRSAEncryption for RSA keys');
  }
  const signature = Buffer.from(der.primitive(signatureNode), 'binary').subarray(1);
  if (!verify('sha256', der.firstElementBytes(csrDer, 'csr'), publicKey, signature)) {
    throw csrError('csr.signature: does not verify with the public key in the request');
  }
  return { publicKey, commonName: readCommonName(subject), requested: readRequested(attributes) };
}

function readPublicKey(spki: forge.asn1.Asn1): KeyObject {
  try {
    return createPublicKey({ key: der.toDer(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_CSR_INVALID', 'csr.subjectPublicKeyInfo: unreadable public key', { cause });
  }
}

function readCommonName(subject: forge.asn1.Asn1 | undefined): string | undefined {
  for (const rdn of der.children(subject)) {
    const [type, value] = der.children(der.children(rdn)[0]);
    if (type !== undefined && der.readOid(type) === der.OID.commonName) {
      return forge.util.decodeUtf8(der.primitive(value));
    }
  }
  return undefined;
}

function readRequested(attributes: forge.asn1.Asn1 | undefined): CertificateFacts {
  for (const attribute of der.children(attributes)) {
    const [type, values] = der.children(attribute);
    if (type === undefined || der.readOid(type) !== der.OID.extensionRequest) continue;
    return der.factsFromExtensions(der.readExtensions(der.children(values)[0] ?? der.seq([])));
  }
  return { uris: [], otherSanCount: 0, isCa: false, pathLength: undefined, extKeyUsage: undefined };
}

function csrError(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_CSR_INVALID', message);
}

export function toPem(bytes: Buffer, label: string): string {
  const lines = bytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function fromPem(pem: string, label: string): Buffer {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (match?.[1] === undefined) throw csrError(`csr: not a PEM ${label}`);
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}
