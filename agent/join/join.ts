import { request } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ERROR_STATUS, MeridianError, type ErrorCode } from '../../shared/errors/index.js';
import {
  TrustBundle,
  chainToPem,
  createCsr,
  formatSpiffeId,
  generatePrivateKey,
  ownIdentity,
  parseCertificates,
  parseJoinToken,
  privateKeyToPem,
  writeFileAtomic,
  type MtlsIdentity,
} from '../../shared/identity/index.js';
import type { AgentConfig } from '../config.js';
import { openControlSocket, parseControlAddress } from './discovery.js';

/** A join answer is a chain and a bundle: a few KB. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

/** Options of {@link joinSite}. */
export interface JoinSiteOptions {
  /** The token `meridian token create` printed. */
  readonly token: string;
  /** `host:port` of the control service's join endpoint. */
  readonly control: string;
  /** The agent config: site, node, trust domain and where the credentials go. */
  readonly config: AgentConfig;
  readonly timeoutMs?: number;
}

/** What a join wrote. */
export interface JoinResult {
  readonly identity: string;
  readonly notAfter: string;
  readonly files: readonly string[];
}

/**
 * Joins the node to its site: authenticates the control service by the token's CA hash before
 * sending anything, makes the agent key here, sends a CSR with the token, and writes key, chain,
 * trust bundle and NATS password (0600, atomically) where the agent config says.
 */
export async function joinSite(options: JoinSiteOptions): Promise<JoinResult> {
  const { config } = options;
  const token = parseJoinToken(options.token);
  if (token.site !== config.site) {
    throw new MeridianError('MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE', `token: made for site ${token.site}, but this node's config is of site ${config.site}`);
  }
  const address = parseControlAddress(options.control);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const trustDomain = config.nats.trustDomain;
  const socket = await openControlSocket(address, { token, trustDomain }, timeoutMs);
  const privateKey = generatePrivateKey();
  const uri = formatSpiffeId(trustDomain, config.site, 'agent', config.node);
  const csr = createCsr({ privateKey, commonName: config.node, uris: [uri] });
  const answer = await postJoin(socket, { host: address.host, body: JSON.stringify({ token: options.token.trim(), csr, node: config.node }), timeoutMs });
  const identity = readAnswer(answer, privateKey, trustDomain, uri);
  const { nats } = config;
  // Run as root, join leaves each file to the owner of its directory: the agent's service user.
  const secret = { ownerFromDirectory: true };
  writeFileAtomic(nats.bundleFile, identity.bundle.toPem(), secret);
  writeFileAtomic(nats.passwordFile, `${identity.natsPassword}\n`, secret);
  writeFileAtomic(nats.keyFile, privateKeyToPem(privateKey), secret);
  writeFileAtomic(nats.certFile, chainToPem(identity.chain), secret);
  return { identity: uri, notAfter: identity.chain[0]?.validTo ?? '', files: [nats.keyFile, nats.certFile, nats.bundleFile, nats.passwordFile] };
}

/** Checks the answer: a chain for exactly our key and identity that verifies against the bundle it came with. */
function readAnswer(answer: unknown, privateKey: MtlsIdentity['privateKey'], trustDomain: string, uri: string): MtlsIdentity & { natsPassword: string } {
  const body = answer as { chain?: unknown; bundle?: unknown; natsPassword?: unknown };
  if (typeof body.chain !== 'string' || typeof body.bundle !== 'string' || typeof body.natsPassword !== 'string' || body.natsPassword === '') {
    throw new MeridianError('MERIDIAN_ERR_BAD_GATEWAY', 'join answer: chain, bundle and natsPassword must be strings');
  }
  const identity = { privateKey, chain: parseCertificates(body.chain, 'join answer: chain'), bundle: TrustBundle.fromPem(trustDomain, body.bundle, 'join answer: bundle') };
  const id = ownIdentity(identity, 'join answer', 'agent');
  if (id.uri !== uri || identity.chain[0]?.checkPrivateKey(privateKey) !== true) {
    throw new MeridianError('MERIDIAN_ERR_BAD_GATEWAY', `join answer: the certificate is not ${uri} for this node's key`);
  }
  return { ...identity, natsPassword: body.natsPassword };
}

/** POSTs the join request on the checked socket; a refusal becomes a MeridianError with the server's code. */
async function postJoin(socket: TLSSocket, options: { host: string; body: string; timeoutMs: number }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    const req = request(
      {
        createConnection: () => socket,
        method: 'POST',
        path: '/v1/join',
        headers: { host: options.host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body), connection: 'close' },
        timeout: options.timeoutMs,
      },
      (res) => {
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) fail(new MeridianError('MERIDIAN_ERR_BAD_GATEWAY', `join answer over ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
            if (res.statusCode === 200) resolve(parsed);
            else fail(refused(res.statusCode ?? 0, parsed));
          } catch (cause) {
            fail(new MeridianError('MERIDIAN_ERR_BAD_GATEWAY', `join answer (HTTP ${res.statusCode ?? 0}) is not JSON`, { cause }));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new MeridianError('MERIDIAN_ERR_TIMEOUT', `join endpoint: no answer within ${options.timeoutMs} ms`)));
    req.on('error', (cause) => fail(cause instanceof MeridianError ? cause : new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `join endpoint: ${cause.message}`, { cause })));
    req.end(options.body);
  });
}

function refused(status: number, body: unknown): MeridianError {
  const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
  const known = typeof code === 'string' && code in ERROR_STATUS ? (code as ErrorCode) : 'MERIDIAN_ERR_BAD_GATEWAY';
  const text = typeof message === 'string' ? message.slice(0, 500) : `HTTP ${status}`;
  return new MeridianError(known, `the control service refused the join (HTTP ${status}): ${text}`, { details: { status } });
}
