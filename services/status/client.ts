import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { MeridianError } from '../../shared/errors/index.js';
import { spiffeServerCheck, TrustBundle } from '../../shared/identity/index.js';
import type { FederationStatus } from './schema.js';

/** How `meridian status` reaches a control service's status API. */
export interface StatusClientOptions {
  readonly url: string;
  readonly token?: string;
  /** For https: the trust bundle to verify the server with; a client certificate and key to authenticate with. */
  readonly caFile?: string;
  /** With `caFile`: the server must present a control service identity of this trust domain. */
  readonly trustDomain?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly timeoutMs?: number;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * With a trust bundle, the server is checked as a SPIFFE identity (a site control service of the
 * trust domain), never by host name: control services are addressed by IP as often as by name.
 */
function serverCheck(options: StatusClientOptions): https.RequestOptions {
  if (options.caFile === undefined) return {};
  if (options.trustDomain === undefined) throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', '--trust-domain is required with --ca-file');
  const pem = readFile(options.caFile, 'CA bundle');
  const bundle = TrustBundle.fromPem(options.trustDomain, pem.toString('utf8'), options.caFile);
  return { ca: pem, checkServerIdentity: spiffeServerCheck(bundle, (peer) => peer.kind === 'svc' && peer.name === 'control') };
}

function tlsOptions(options: StatusClientOptions): https.RequestOptions {
  return {
    minVersion: 'TLSv1.3',
    ...serverCheck(options),
    ...(options.certFile === undefined ? {} : { cert: readFile(options.certFile, 'client certificate') }),
    ...(options.keyFile === undefined ? {} : { key: readFile(options.keyFile, 'client key') }),
  };
}

/** GETs `/v1/status`; errors name the URL and what the server answered. */
export function fetchFederationStatus(options: StatusClientOptions): Promise<FederationStatus> {
  const url = new URL('/v1/status', options.url);
  const secure = url.protocol === 'https:';
  const headers = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).get(url, { headers, timeout: options.timeoutMs ?? 5_000, ...(secure ? tlsOptions(options) : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) {
          const code = response.statusCode === 401 ? 'MERIDIAN_ERR_UNAUTHORIZED' : 'MERIDIAN_ERR_UNAVAILABLE';
          reject(new MeridianError(code, `${url.href} answered ${response.statusCode}: ${body.slice(0, 300)}`));
          return;
        }
        try {
          resolve(JSON.parse(body) as FederationStatus);
        } catch (cause) {
          reject(new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `${url.href} answered something that is not JSON`, { cause }));
        }
      });
    });
    request.on('timeout', () => request.destroy(new MeridianError('MERIDIAN_ERR_TIMEOUT', `the status API at ${url.href} did not answer within ${options.timeoutMs ?? 5_000} ms`)));
    request.on('error', (cause) => reject(cause instanceof MeridianError ? cause : new MeridianError('MERIDIAN_ERR_UNAVAILABLE', `cannot reach the status API at ${url.href}: ${cause.message}`, { cause })));
  });
}
