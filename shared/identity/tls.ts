import { X509Certificate, type KeyObject } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';
import { MeridianError } from '../errors/index.js';
import { chainToPem, type TrustBundle } from './bundle.js';
import type { SpiffeId, TlsUsage } from './types.js';
import { verifyPeer, type PeerCertificates } from './verify.js';

/** What an mTLS endpoint presents: its key and chain (leaf first), and the roots it trusts. */
export interface MtlsIdentity {
  readonly privateKey: KeyObject;
  readonly chain: readonly X509Certificate[];
  readonly bundle: TrustBundle;
}

/** Mesh ports speak TLS 1.3 only, with mutual authentication against the trust bundle. */
export function mtlsContextOptions(identity: MtlsIdentity): SecureContextOptions & {
  key: string;
  cert: string;
  ca: string;
  minVersion: 'TLSv1.3';
  maxVersion: 'TLSv1.3';
} {
  return {
    key: identity.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: chainToPem(identity.chain),
    ca: identity.bundle.toPem(),
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  };
}

/**
 * Server-side options: the handshake fails for clients without a certificate chaining to the
 * bundle; `peerIdentity` then applies the SPIFFE rules before any application byte is read.
 */
export function mtlsServerOptions(identity: MtlsIdentity): ReturnType<typeof mtlsContextOptions> & {
  requestCert: true;
  rejectUnauthorized: true;
} {
  return { ...mtlsContextOptions(identity), requestCert: true, rejectUnauthorized: true };
}

/**
 * Client-side options. The SPIFFE check runs inside the handshake (checkServerIdentity), so a
 * server with a bad identity never receives a byte; `expect` narrows which peers are accepted.
 */
export function mtlsClientOptions(
  identity: MtlsIdentity,
  expect: (peer: SpiffeId) => boolean = () => true,
): ReturnType<typeof mtlsContextOptions> & {
  rejectUnauthorized: true;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
} {
  return {
    ...mtlsContextOptions(identity),
    rejectUnauthorized: true,
    checkServerIdentity: spiffeServerCheck(identity.bundle, expect),
  };
}

/** A TLS client's `checkServerIdentity`: the server must hold a valid SPIFFE identity of `bundle` that `expect` accepts (host names play no part). */
export function spiffeServerCheck(bundle: TrustBundle, expect: (peer: SpiffeId) => boolean): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    try {
      const peer = verifyPeer(peerCertificatesFromLegacy(cert), bundle, 'server');
      return expect(peer) ? undefined : new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', `server identity ${peer.uri} is not the expected peer`);
    } catch (error) {
      return error as Error;
    }
  };
}

/** The verified SPIFFE identity of the other end of an established mTLS socket. */
export function peerIdentity(socket: TLSSocket, bundle: TrustBundle, peerUsage: TlsUsage): SpiffeId {
  // Order matters: on a server socket (Node 20) getPeerX509Certificate() first leaves
  // getPeerCertificate(true) without its issuer chain.
  const detailed = socket.getPeerCertificate(true);
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) throw new MeridianError('MERIDIAN_ERR_PEER_IDENTITY', 'peer presented no certificate');
  return verifyPeer({ leaf, intermediates: issuerChain(detailed) }, bundle, peerUsage);
}

function peerCertificatesFromLegacy(cert: PeerCertificate): PeerCertificates {
  return { leaf: new X509Certificate(cert.raw), intermediates: issuerChain(cert as DetailedPeerCertificate) };
}

/** The issuer certificates TLS verified, leaf excluded (the chain ends with a self-issued root). */
function issuerChain(cert: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current = cert;
  while (current.issuerCertificate !== undefined && current.issuerCertificate !== current && chain.length < 8) {
    current = current.issuerCertificate;
    chain.push(new X509Certificate(current.raw));
  }
  return chain;
}

/**
 * The SPIFFE ID an identity presents, checked by the same rules a peer applies, so a gateway or
 * agent started with a wrong or expired credential fails at start and not at its first handshake.
 * `where` names the option in errors (e.g. "startGateway: identity").
 */
export function ownIdentity(identity: MtlsIdentity, where: string, kind?: SpiffeId['kind']): SpiffeId {
  const fail = (message: string, cause?: unknown): MeridianError =>
    new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `${where}: ${message}`, { cause, details: { field: where } });
  const [leaf, ...intermediates] = identity.chain;
  if (leaf === undefined) throw fail('has an empty certificate chain');
  let id: SpiffeId;
  try {
    id = verifyPeer({ leaf, intermediates }, identity.bundle, 'server');
    verifyPeer({ leaf, intermediates }, identity.bundle, 'client');
  } catch (cause) {
    throw fail((cause as Error).message, cause);
  }
  if (kind !== undefined && id.kind !== kind) throw fail(`must be a ${kind} identity (got ${id.uri})`);
  return id;
}

/** What {@link liveClientOptions} hands out: the client options whose key, chain and roots follow the identity. */
export type LiveClientOptions = ReturnType<typeof mtlsClientOptions>;

/**
 * Client options that follow a changing identity: `key`, `cert`, `ca` and the server check are
 * getters that read `identity()` whenever a client copies them, i.e. at each new handshake.
 * nats.js keeps the `tls` object it was given and copies its fields at every (re)connect, so
 * a NATS connection made with these reconnects with the renewed certificate and the new bundle.
 */
export function liveClientOptions(identity: () => MtlsIdentity, expect: (peer: SpiffeId) => boolean = () => true): LiveClientOptions {
  let source: MtlsIdentity | undefined;
  let options: LiveClientOptions | undefined;
  const now = (): LiveClientOptions => {
    const current = identity();
    if (options === undefined || source !== current) {
      options = mtlsClientOptions(current, expect);
      source = current;
    }
    return options;
  };
  return {
    get key() {
      return now().key;
    },
    get cert() {
      return now().cert;
    },
    get ca() {
      return now().ca;
    },
    get checkServerIdentity() {
      return now().checkServerIdentity;
    },
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    rejectUnauthorized: true,
  };
}
