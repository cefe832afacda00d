import forge from 'node-forge';
import { MeridianError, type ErrorCode } from '../errors/index.js';
import type { CertificateFacts } from './types.js';

/**
 * Small DER vocabulary on top of node-forge's ASN.1 codec. node-forge builds and reads the
 * X.509 structures; Node's native crypto does the signing (forge's own signing is RSA-only and
 * about 30 certificates per second per core).
 */
const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const { Class, Type } = asn1;

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  extensionRequest: '1.2.840.113549.1.9.14',
} as const;

const SAN_URI_TAG = 6;

export const seq = (items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SET, true, items);
export const oid = (id: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(id).getBytes());
export const octets = (bytes: Buffer): Asn1 => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes.toString('binary'));
export const bool = (value: boolean): Asn1 => asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, value ? '\xff' : '\x00');
export const nullValue = (): Asn1 => asn1.create(Class.UNIVERSAL, Type.NULL, false, '');
export const explicit = (tag: number, inner: Asn1): Asn1 => asn1.create(Class.CONTEXT_SPECIFIC, tag, true, [inner]);

/** A non-negative DER INTEGER from big-endian bytes (a leading 0x00 keeps it positive). */
export function integer(bytes: Buffer): Asn1 {
  const positive = bytes.length > 0 && (bytes[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return asn1.create(Class.UNIVERSAL, Type.INTEGER, false, positive.toString('binary'));
}

export function smallInteger(value: number): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.INTEGER, false, asn1.integerToDer(value).getBytes());
}

export function bitString(bytes: Buffer, unusedBits = 0): Asn1 {
  return asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, String.fromCharCode(unusedBits) + bytes.toString('binary'));
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

export function fromDer(der: Buffer, what: string, code: ErrorCode = 'MERIDIAN_ERR_CERT_INVALID'): Asn1 {
  try {
    // @types/node-forge only declares the legacy boolean form of the options argument.
    const options = { strict: true, parseAllBytes: true, decodeBitStrings: false } as unknown as boolean;
    return asn1.fromDer(der.toString('binary'), options);
  } catch (cause) {
    throw new MeridianError(code, `${what}: not valid DER`, { cause });
  }
}

/** An X.501 Name with a common name and an optional organisation. */
export function distinguishedName(commonName: string, organization?: string): Asn1 {
  const rdn = (type: string, value: string): Asn1 =>
    set([seq([oid(type), asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(value))])]);
  const rdns = organization === undefined ? [] : [rdn(OID.organization, organization)];
  return seq([...rdns, rdn(OID.commonName, commonName)]);
}

/** Validity time: UTCTime before 2050, GeneralizedTime after (RFC 5280 4.1.2.5). */
export function time(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** The signed part of a SEQUENCE { signedPart, algorithm, signature }, as the exact original bytes. */
export function firstElementBytes(der: Buffer, what: string): Buffer {
  const outer = tlv(der, 0, what);
  if (der[0] !== 0x30 || outer.end !== der.length) throw invalidDer(what);
  const inner = tlv(der, outer.contentStart, what);
  return der.subarray(outer.contentStart, inner.end);
}

function tlv(der: Buffer, offset: number, what: string): { contentStart: number; end: number } {
  const first = der[offset + 1];
  if (first === undefined) throw invalidDer(what);
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw invalidDer(what);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw invalidDer(what);
  return { contentStart, end };
}

function invalidDer(what: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_CERT_INVALID', `${what}: malformed DER structure`);
}

/** The raw content octets of a primitive node (forge keeps them as a binary string). */
export function primitive(node: Asn1 | undefined): string {
  if (node === undefined) return '';
  if (typeof node.value !== 'string') throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', 'expected a primitive ASN.1 value, found a constructed one');
  return node.value;
}

export { isContext };

export function readOid(node: Asn1): string {
  return asn1.derToOid(forge.util.createBuffer(primitive(node)));
}

const CONTEXT_SPECIFIC: number = Class.CONTEXT_SPECIFIC;
const isContext = (node: Asn1, tag: number): boolean => (node.tagClass as number) === CONTEXT_SPECIFIC && (node.type as number) === tag;

/** Decodes the extensions list (SEQUENCE OF Extension) into id → value bytes. */
export function readExtensions(extensions: Asn1): Map<string, string> {
  const byId = new Map<string, string>();
  for (const ext of children(extensions)) {
    const parts = children(ext);
    const id = parts[0] === undefined ? '' : readOid(parts[0]);
    const valueNode = parts[parts.length - 1];
    if (byId.has(id)) throw new MeridianError('MERIDIAN_ERR_CERT_INVALID', `extension ${id} appears twice`);
    byId.set(id, primitive(valueNode));
  }
  return byId;
}

export function children(node: Asn1 | undefined): Asn1[] {
  return node !== undefined && Array.isArray(node.value) ? node.value : [];
}

/** Interprets the SAN, basic-constraints and extended-key-usage extension values. */
export function factsFromExtensions(byId: Map<string, string>): CertificateFacts {
  const uris: string[] = [];
  let otherSanCount = 0;
  const san = byId.get(OID.subjectAltName);
  if (san !== undefined) {
    for (const name of children(asn1.fromDer(san))) {
      if (isContext(name, SAN_URI_TAG)) uris.push(primitive(name));
      else otherSanCount++;
    }
  }
  const basic = byId.get(OID.basicConstraints);
  const basicParts = basic === undefined ? [] : children(asn1.fromDer(basic));
  const isCa = basicParts[0]?.type === Type.BOOLEAN && basicParts[0].value === '\xff';
  const pathNode = basicParts.find((p) => p.type === Type.INTEGER);
  const eku = byId.get(OID.extKeyUsage);
  return {
    uris,
    otherSanCount,
    isCa,
    pathLength: pathNode === undefined ? undefined : asn1.derToInteger(primitive(pathNode)),
    extKeyUsage:
      eku === undefined
        ? undefined
        : children(asn1.fromDer(eku)).map(readOid),
  };
}

/** A GeneralNames value holding only URIs (the SPIFFE SAN). */
export function uriGeneralNames(uris: readonly string[]): Asn1 {
  return seq(uris.map((uri) => asn1.create(Class.CONTEXT_SPECIFIC, SAN_URI_TAG, false, uri)));
}
