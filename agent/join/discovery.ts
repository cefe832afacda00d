import { X509Certificate } from 'node:crypto';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { MeridianError } from '../../shared/errors/index.js';
import { caSpkiHash, certificateFacts, parseSpiffeId, type JoinToken } from '../../shared/identity/index.js';

/** What the node expects of the control service it joins through. */
export interface DiscoveryExpectation {
  readonly token: JoinToken;
  readonly trustDomain: string;
}

/** The control service's address: `host:port` or `[v6]:port`. */
export function parseControlAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `--control ${JSON.stringify(address)}: expected <host>:<port> of the control service's join endpoint`);
  }
  return { host, port };
}

function mismatch(message: string): MeridianError {
  return new MeridianError('MERIDIAN_ERR_JOIN_CA_MISMATCH', `${message}; nothing was sent (a control service of another site or CA, or someone in between)`);
}

/** The certificates the server presented, leaf first (TLS chain building aside: they are checked below). */
function presented(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (current?.raw !== undefined && chain.length < 8) {
    chain.push(new X509Certificate(current.raw));
    if (current.issuerCertificate === current) break;
    current = current.issuerCertificate;
  }
  return chain;
}

/**
 * Checks, before any byte is sent, that the server is the control service of the token's site:
 * a CA certificate whose SPKI hash is the token's CA hash, that is the site CA
 * `spiffe://<td>/site/<site>`, and a leaf `spiffe://<td>/site/<site>/svc/control` it signed, both valid now.
 */
export function verifyControlChain(chain: readonly X509Certificate[], expect: DiscoveryExpectation, now = new Date()): void {
  const { token, trustDomain } = expect;
  const [leaf, ...issuers] = chain;
  if (leaf === undefined) throw mismatch('the join endpoint presented no certificate');
  const ca = issuers.find((c) => caSpkiHash(c) === token.caHash);
  if (ca === undefined) throw mismatch(`the join endpoint's certificate chain holds no CA with the token's CA hash ${token.caHash}`);
  const caFacts = certificateFacts(ca);
  const caId = caFacts.uris.length === 1 ? parseSpiffeId(caFacts.uris[0] ?? '', trustDomain) : undefined;
  if (!caFacts.isCa || caId?.kind !== 'site' || caId.site !== token.site) throw mismatch(`the CA with the token's hash is not the site CA of ${token.site} in ${trustDomain}`);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw mismatch(`the join endpoint's certificate was not issued by the site CA of ${token.site}`);
  const facts = certificateFacts(leaf);
  const id = facts.uris.length === 1 ? parseSpiffeId(facts.uris[0] ?? '', trustDomain) : undefined;
  if (id?.kind !== 'svc' || id.name !== 'control' || id.site !== token.site) {
    throw mismatch(`the join endpoint is ${facts.uris[0] ?? 'no SPIFFE identity'}, not the control service of site ${token.site}`);
  }
  for (const [what, cert] of [['control certificate', leaf], ['site CA', ca]] as const) {
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) throw mismatch(`the ${what} is not valid now (valid ${cert.validFrom} to ${cert.validTo})`);
  }
}

/**
 * Opens TLS 1.3 to the join endpoint and authenticates it by the token's CA hash (the node has no
 * trust bundle yet: the hash is its anchor). Resolves with the checked socket; nothing was written.
 */
export async function openControlSocket(address: { host: string; port: number }, expect: DiscoveryExpectation, timeoutMs: number): Promise<TLSSocket> {
  const socket = connect({ host: address.host, port: address.port, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  socket.setTimeout(timeoutMs);
  return new Promise<TLSSocket>((resolve, reject) => {
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('timeout', () => fail(new MeridianError('MERIDIAN_ERR_TIMEOUT', `join endpoint ${address.host}:${address.port}: no TLS handshake within ${timeoutMs} ms`)));
    socket.once('error', (cause: Error) =>
      fail(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `join endpoint ${address.host}:${address.port}: ${cause.message}`, { cause })),
    );
    socket.once('secureConnect', () => {
      try {
        verifyControlChain(presented(socket), expect);
        socket.setTimeout(0);
        socket.removeAllListeners('timeout');
        resolve(socket);
      } catch (error) {
        fail(error as Error);
      }
    });
  });
}
